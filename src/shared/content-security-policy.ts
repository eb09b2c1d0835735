/**
 * The renderer's Content-Security-Policy, the same in Electron (src/main) and when the headless
 * agent serves it to a browser (src/site/agent): only the app's own bundle runs — no remote
 * code, no inline scripts, no eval.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // React inline style attributes; no inline <script>
  "img-src 'self' data:", // thumbnails arrive as data: URLs from the backend, on-device only
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
