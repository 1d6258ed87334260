/** Catalog names: dot-separated words of letters, digits and underscores. */
export const EVENT_TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
