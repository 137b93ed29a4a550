// Verifies LeadGrid's `X-LeadGrid-Signature` header in Node.js (no dependencies).
// The spec's verifyLeadGridSignature, extended in two ways: it accepts any `v1` (a header
// carries one per secret during a rotation), and it rejects stale timestamps.
import crypto from "node:crypto";

export function verifyLeadGridSignature(header, body, secret, toleranceSeconds = 300) {
  const parts = header.split(",").map((part) => part.split("=", 2));
  const t = parts.find(([key]) => key === "t")?.[1];
  const signatures = parts.filter(([key]) => key === "v1").map(([, value]) => value);
  if (!/^\d+$/.test(t ?? "") || Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) {
    return false;
  }
  // `body` is the raw request body, exactly as received: a string or a Buffer.
  const expected = Buffer.from(
    crypto.createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex"),
  );
  return signatures.some(
    (v1) => v1.length === expected.length && crypto.timingSafeEqual(expected, Buffer.from(v1)),
  );
}
