// The events the engine sends to this window (crates/chaff-app/src/ui_events.rs names them;
// a test keeps both lists equal).
export const LIFECYCLE = 'chaff:lifecycle';
export const SERVICE_ADDED = 'chaff:service-added';
export const SERVICE_REMOVED = 'chaff:service-removed';
export const SERVICE_CONFIG_CHANGED = 'chaff:service-config-changed';
export const MUTATION = 'chaff:mutation';
export const ATTACKER_EVENT = 'chaff:attacker-event';
export const DOCKER = 'chaff:docker';
export const LAGGED = 'chaff:lagged';
