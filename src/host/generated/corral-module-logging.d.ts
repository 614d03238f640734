// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/logging@0.1.0 **/
export function log(level: Level, message: string, fieldsJson: string): void;
/**
 * # Variants
 * 
 * ## `"trace"`
 * 
 * ## `"debug"`
 * 
 * ## `"info"`
 * 
 * ## `"warn"`
 * 
 * ## `"error"`
 */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
