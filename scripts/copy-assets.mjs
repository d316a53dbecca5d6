// After tsc: copy the non-TypeScript files the compiled code reads next to itself into dist/.
import { cpSync } from 'node:fs';

const ASSETS = [
  'recovery-hooks/notifiers/templates', // email / XMPP message templates
  'simulator/hardware/data', // the simulated hardware plugins' saved outputs
  'rules/values.yml', // the rules generator's defaults (rules/lib/values.ts reads ../values.yml)
  'recovery-hooks/ui/static', // the web UI's stylesheet and script
];
for (const path of ASSETS) cpSync(path, `dist/${path}`, { recursive: true });
