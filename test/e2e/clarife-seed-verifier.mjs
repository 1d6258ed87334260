/**
 * clarife's own receiver-side check, copied verbatim from its documentation
 * (clarife's published "Node.js Verification Example"): the
 * import and the function below are the seed's text unchanged; only this comment
 * and the export line at the end are ours. Types: clarife-seed-verifier.d.mts.
 */
import crypto from "crypto";

function verifyWebhookSignature(payload, signature, secret) {
  const [tPart, v1Part] = signature.split(",");
  const timestamp = tPart.replace("t=", "");
  const receivedHmac = v1Part.replace("v1=", "");

  // Reject if timestamp is older than 5 minutes
  const age = Date.now() / 1000 - parseInt(timestamp);
  if (age > 300) return false;

  const expectedHmac = crypto
    .createHmac("sha256", secret)
    .update(JSON.stringify(payload))
    .digest("hex");

  return crypto.timingSafeEqual(
    Buffer.from(receivedHmac, "hex"),
    Buffer.from(expectedHmac, "hex")
  );
}

export { verifyWebhookSignature };
