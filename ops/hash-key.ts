// `npm run keys:hash -- <secret>`: prints the SHA-256 to put in proxy.apiKeys[].sha256.
// With no argument it makes a new random key and prints both.
import { randomBytes } from 'node:crypto';
import { hashKey } from '../proxy/auth.js';

const secret = process.argv[2] ?? `sk_${randomBytes(24).toString('base64url')}`;
if (!process.argv[2]) process.stdout.write(`key:    ${secret}\n`);
process.stdout.write(`sha256: ${hashKey(secret)}\n`);
