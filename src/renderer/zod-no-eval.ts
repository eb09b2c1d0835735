import { z } from 'zod';

// The CSP forbids eval. zod probes `new Function` for its JIT when the first object schema is
// built (at import time of src/shared), which the CSP reports as a violation; jitless skips the
// probe. This module must be main.tsx's first import so it runs before any schema exists.
z.config({ jitless: true });
