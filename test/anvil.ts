// The tests' anvil is the engine's embedded one (src/chain/embeddedAnvil.ts).
export { startAnvil, type Anvil } from '../src/chain/embeddedAnvil.ts';
