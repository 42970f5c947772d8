import { pipesSuite } from './pipes-suite.js';

pipesSuite('embedded', {});
