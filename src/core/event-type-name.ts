/** Catalog names (CONTRACT.md "Event types"). */
export const EVENT_TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
