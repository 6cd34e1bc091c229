// Mocha root hooks: refuse to start the story without its settings, so a missing
// variable is one clear failure rather than a cascade of them.
import { apiUrl, promoteCommand } from './config.mjs';

export const mochaHooks = {
  beforeAll() {
    apiUrl();
    promoteCommand();
  },
};
