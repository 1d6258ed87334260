/** The size limits of a subscription's fields: one place for the API's schemas and the dashboard's forms. */
export const SUBSCRIPTION_LIMITS = {
  url: 2048,
  eventTypes: 100,
  eventType: 128,
  subjects: 100,
  subject: 256,
  description: 1024,
  secret: 256,
} as const;

export const EVENT_PATTERN_MESSAGE = "must be an event type name, a prefix like document.*, or *";
