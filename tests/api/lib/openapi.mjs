// Checks recorded answers against openapi.yaml: the status is documented for the
// route, the content type is the documented one, required headers are there and
// the JSON body matches the documented schema (JSON Schema 2020-12, via Ajv).
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { OPENAPI_FILE } from './config.mjs';

const SCHEMA_BASE = 'https://shop.invalid/openapi/schemas/';

/** Deep-copies a schema, pointing `#/components/schemas/X` at the ids Ajv knows. */
function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [
        key,
        key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')
          ? SCHEMA_BASE + value.slice('#/components/schemas/'.length)
          : rewriteRefs(value),
      ]),
    );
  }
  return node;
}

/** Turns `/products/{id}` into a regular expression for concrete paths. */
function pathPattern(template) {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

export function loadContract(file = OPENAPI_FILE) {
  const doc = parse(readFileSync(file, 'utf8'));
  // Follows a local `$ref` (responses, headers, parameters) to its target.
  const deref = (node) => {
    let current = node;
    while (current && typeof current.$ref === 'string' && !current.$ref.startsWith('#/components/schemas/')) {
      current = current.$ref
        .slice(2)
        .split('/')
        .reduce((at, part) => at?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
      if (current === undefined) throw new Error(`openapi.yaml: unresolved ${node.$ref}`);
    }
    return current;
  };

  const ajv = new Ajv2020({ allErrors: true, strict: false, multipleOfPrecision: 9 });
  addFormats(ajv);
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    ajv.addSchema(rewriteRefs(schema), SCHEMA_BASE + name);
  }
  const validators = new Map();
  const validatorFor = (schema) => {
    if (!validators.has(schema)) validators.set(schema, ajv.compile(rewriteRefs(schema)));
    return validators.get(schema);
  };
  const problem = validatorFor({ $ref: '#/components/schemas/Problem' });
  const routes = Object.entries(doc.paths).map(([template, item]) => ({ template, item, pattern: pathPattern(template) }));
  const schemaErrors = (validate) => validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

  /** Every way ANSWER breaks the contract (empty when it holds). */
  function check(answer) {
    const pathname = answer.path.split('?')[0];
    const route = routes.find((r) => r.pattern.test(pathname));
    const operation = route?.item[answer.method.toLowerCase()];
    if (!operation) {
      // The router's own answers: 404 (no route) and 405 (no such method).
      const why = [];
      const allowed = route ? [405] : [404];
      if (!allowed.includes(answer.status)) why.push(`no operation documents it; expected ${allowed}`);
      if (answer.contentType !== 'application/problem+json') why.push(`content type ${answer.contentType}`);
      else if (!problem(answer.body)) why.push(`body: ${schemaErrors(problem)}`);
      return why;
    }
    const documented = operation.responses[String(answer.status)] ?? operation.responses.default;
    if (!documented) {
      return [`status not documented for ${answer.method} ${route.template} (${Object.keys(operation.responses)})`];
    }
    const response = deref(documented);
    const why = [];
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (deref(header).required && !answer.headers.has(name)) why.push(`missing header ${name}`);
    }
    const content = response.content ?? {};
    if (Object.keys(content).length === 0) return why;
    const media = content[answer.contentType];
    if (!media) return [...why, `content type ${answer.contentType || '(none)'} not in ${Object.keys(content)}`];
    if (answer.body === undefined) return [...why, 'the body is not JSON'];
    const validate = validatorFor(media.schema);
    if (!validate(answer.body)) why.push(`body: ${schemaErrors(validate)}`);
    return why;
  }

  return { doc, check };
}
