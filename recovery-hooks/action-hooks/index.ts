// Web hooks around recovery actions: the config list and the ActionHooks that calls them.
export { ACTION_METHODS, type ActionHookConfig, type ActionMethod, actionHooksSchema } from './config.js';
export { type ActionHookCounter, ActionHooks, type ActionHooksOptions, ActionVetoed, createActionHookCounter } from './hooks.js';
export { type ActionCall, type ActionNotification, actionNotification } from './payload.js';
