/**
 * The renderer's Content-Security-Policy when the headless agent serves it. It must equal
 * CONTENT_SECURITY_POLICY in src/main/security.ts (site may not import main; a test checks they
 * match): the same bundle runs under the same rules in Electron and in a browser.
 */
export const AGENT_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
