/** Types of clarife-seed-verifier.mjs (the seed's verifyWebhookSignature, unchanged). */
export declare function verifyWebhookSignature(payload: unknown, signature: string, secret: string): boolean;
