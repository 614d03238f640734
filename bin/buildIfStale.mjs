#!/usr/bin/env node
// `npm install`'s prepare step: builds dist/ only when it is missing or older than src/. Every project
// that depends on this directory (`file:`) runs it on its own install; rebuilding each time deleted
// dist/ under CLIs running from it, and two at once lost each other's build stamp.
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildState } from './freshness.mjs';

if (!buildState().fresh) execSync('npm run build', { cwd: fileURLToPath(new URL('../', import.meta.url)), stdio: 'inherit' });
