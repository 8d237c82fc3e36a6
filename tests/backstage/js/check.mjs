// Checks what kratix-py generates for Backstage with Backstage's own published packages.
//
// Input (argv[2]): a JSON file {entityFiles: [path], templates: [{file, parameters, user?}],
// patterns: [string]}.
// Output (stdout): JSON with, per entity, the errors the catalog would report, and per Template
// the form compile errors, the parameter errors, each step's rendered input with the errors of
// the action's own input schema, and the files the real catalog:write action wrote.
//
// It does what the Backstage backend does, with its code where that code is published:
//   catalog: parseEntityYaml-style YAML reading (the `yaml` package), the default entity
//     policies and the kind validators of @backstage/catalog-model, the Template validator of
//     @backstage/plugin-scaffolder-common, and relation references parsed with parseEntityRef
//     and held to the entity name rules (makeValidator);
//   form: each parameters page without its `ui:` keys (as the scaffolder front end strips
//     them), compiled by Ajv with ajv-formats (what react-jsonschema-form validates with), and
//     the parameters checked against it, with defaults filled in as the form fills them;
//   steps: every string rendered with nunjitsu's renderValue(..., {coercion: 'json'}) through a
//     JSON reviver, exactly as NunjucksWorkflowRunner.render in @backstage/plugin-scaffolder-backend
//     4.3.0 does, then checked with `jsonschema` (the library the scaffolder checks inputs with)
//     against the action's input schema: the real action's schema for catalog:write and
//     publish:github:pull-request, and for kube:apply (@devangelista/backstage-scaffolder-kubernetes,
//     not installable here) its input as published: {manifest: string, namespaced: boolean}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import jsonschema from 'jsonschema';
import { createTemplateRenderer } from 'nunjitsu';
import YAML from 'yaml';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  makeValidator,
  parseEntityRef,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';
import { templateEntityV1beta3Validator } from '@backstage/plugin-scaffolder-common';
import { ConfigReader } from '@backstage/config';
import { DefaultGithubCredentialsProvider, ScmIntegrations } from '@backstage/integration';
import { createCatalogWriteAction } from '@backstage/plugin-scaffolder-backend';
import { createPublishGithubPullRequestAction } from '@backstage/plugin-scaffolder-backend-module-github';

const require = createRequire(import.meta.url);

// The rules FieldFormatEntityPolicy checks an entity's own kind, namespace and name with; a
// relation's target must meet them too, or the relation points at an entity that cannot exist.
const rules = makeValidator();

const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);
const kindValidators = [
  componentEntityV1alpha1Validator,
  apiEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  templateEntityV1beta3Validator,
];
// Relations the catalog builds from spec fields, with the default kind it assumes.
const relationFields = [
  ['owner', 'Group'],
  ['system', 'System'],
  ['providesApis', 'API'],
  ['consumesApis', 'API'],
  ['dependsOn', undefined],
  ['dependencyOf', undefined],
  ['subcomponentOf', 'Component'],
];

function message(error) {
  return error && error.message ? error.message : String(error);
}

async function checkEntity(entity) {
  const errors = [];
  try {
    const result = await policy.enforce(entity);
    if (!result) errors.push('rejected by the entity policies');
  } catch (error) {
    errors.push(`policy: ${message(error)}`);
  }
  let matched = 0;
  for (const validator of kindValidators) {
    try {
      if (await validator.check(entity)) matched += 1;
    } catch (error) {
      errors.push(`${entity.kind} validator: ${message(error)}`);
      matched += 1;
    }
  }
  if (matched === 0) errors.push(`no kind validator accepts ${entity.apiVersion} ${entity.kind}`);
  for (const [field, defaultKind] of relationFields) {
    const value = entity.spec?.[field];
    if (value === undefined) continue;
    for (const ref of Array.isArray(value) ? value : [value]) {
      try {
        const target = parseEntityRef(ref, { defaultKind, defaultNamespace: 'default' });
        if (!rules.isValidKind(target.kind)) errors.push(`spec.${field}: ${ref}: invalid kind`);
        if (!rules.isValidNamespace(target.namespace)) errors.push(`spec.${field}: ${ref}: invalid namespace`);
        if (!rules.isValidEntityName(target.name)) errors.push(`spec.${field}: ${ref}: invalid name`);
      } catch (error) {
        errors.push(`spec.${field}: ${message(error)}`);
      }
    }
  }
  return errors;
}

function withoutUi(value) {
  if (Array.isArray(value)) return value.map(withoutUi);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !key.startsWith('ui:') && !key.startsWith('backstage:'))
        .map(([key, inner]) => [key, withoutUi(inner)]),
    );
  }
  return value;
}

function newAjv(options = {}) {
  const ajv = new Ajv({ allErrors: true, strict: true, ...options });
  addFormats(ajv);
  return ajv;
}

function checkForm(template, parameters) {
  const formErrors = [];
  const parameterErrors = [];
  const filled = structuredClone(parameters);
  const pages = Array.isArray(template.spec.parameters)
    ? template.spec.parameters
    : [template.spec.parameters ?? {}];
  for (const [index, page] of pages.entries()) {
    const schema = { type: 'object', ...withoutUi(page) };
    delete schema.title;
    let validate;
    let fill;
    try {
      validate = newAjv().compile(schema);
      fill = newAjv({ useDefaults: true, strict: false }).compile(schema);
    } catch (error) {
      formErrors.push(`page ${index} (${page.title}): ${message(error)}`);
      continue;
    }
    fill(filled);
    if (!validate(filled)) {
      for (const error of validate.errors) {
        parameterErrors.push(`page ${index} (${page.title}) ${error.instancePath || '/'} ${error.message}`);
      }
    }
  }
  return { formErrors, parameterErrors, filled };
}

// NunjucksWorkflowRunner.render of @backstage/plugin-scaffolder-backend 4.3.0.
function render(input, context, renderer) {
  return JSON.parse(JSON.stringify(input), (_key, value) => {
    try {
      if (typeof value === 'string') {
        return renderer.renderValue(value, context, { coercion: 'json' });
      }
    } catch {
      return value;
    }
    return value;
  });
}

const kubeApplyInput = {
  type: 'object',
  properties: {
    manifest: { type: 'string' },
    namespaced: { type: 'boolean' },
    clusterName: { type: 'string' },
  },
  required: ['manifest', 'namespaced'],
  additionalProperties: false,
};

function actions() {
  const config = new ConfigReader({});
  const integrations = ScmIntegrations.fromConfig(config);
  const githubCredentialsProvider = DefaultGithubCredentialsProvider.fromIntegrations(integrations);
  const write = createCatalogWriteAction();
  const pullRequest = createPublishGithubPullRequestAction({ integrations, githubCredentialsProvider, config });
  return {
    [write.id]: { schema: write.schema.input, run: write },
    [pullRequest.id]: { schema: pullRequest.schema.input },
    'kube:apply': { schema: kubeApplyInput },
  };
}

const quietLogger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return quietLogger;
  },
};

async function checkTemplate(spec, registry, renderer) {
  const text = fs.readFileSync(spec.file, 'utf8');
  const template = YAML.parse(text);
  const { formErrors, parameterErrors, filled } = checkForm(template, spec.parameters ?? {});
  const context = {
    parameters: filled,
    user: spec.user ?? { ref: 'user:default/guest' },
    steps: {},
    context: { task: { id: 'test' } },
  };
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'kratix-py-scaffolder-'));
  const steps = [];
  for (const step of template.spec.steps ?? []) {
    const input = render(step.input ?? {}, context, renderer);
    const action = registry[step.action];
    const result = { id: step.id, action: step.action, input, inputErrors: [] };
    if (!action) {
      result.inputErrors.push(`no such action in this check: ${step.action}`);
    } else {
      const checked = jsonschema.validate(input, action.schema);
      result.inputErrors.push(...checked.errors.map(e => e.stack));
      if (action.run && checked.valid) {
        await action.run.handler({
          input,
          workspacePath: workspace,
          logger: quietLogger,
          templateInfo: { entityRef: `template:default/${template.metadata.name}` },
          output() {},
        });
      }
    }
    if (step.action === 'kube:apply' && typeof input.manifest === 'string') {
      try {
        result.parsedManifest = YAML.parse(input.manifest);
      } catch (error) {
        result.inputErrors.push(`manifest is not YAML: ${message(error)}`);
      }
    }
    context.steps[step.id] = { output: {} };
    steps.push(result);
  }
  const written = {};
  for (const file of fs.readdirSync(workspace, { recursive: true })) {
    const full = path.join(workspace, file);
    if (fs.statSync(full).isFile()) written[file.split(path.sep).join('/')] = fs.readFileSync(full, 'utf8');
  }
  fs.rmSync(workspace, { recursive: true, force: true });
  return { file: spec.file, formErrors, parameterErrors, parameters: filled, steps, written };
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const entities = [];
  for (const file of request.entityFiles ?? []) {
    const documents = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
    for (const [index, document] of documents.entries()) {
      if (document.errors.length) {
        entities.push({ file, index, errors: document.errors.map(message) });
        continue;
      }
      const entity = document.toJSON();
      entities.push({
        file,
        index,
        kind: entity?.kind,
        name: entity?.metadata?.name,
        errors: await checkEntity(entity),
      });
    }
  }
  const registry = actions();
  const renderer = createTemplateRenderer({ allowRegexExecution: true });
  const templates = [];
  for (const spec of request.templates ?? []) {
    templates.push(await checkTemplate(spec, registry, renderer));
  }
  const versions = Object.fromEntries(
    [
      '@backstage/catalog-model',
      '@backstage/plugin-scaffolder-common',
      '@backstage/plugin-scaffolder-backend',
      '@backstage/plugin-scaffolder-backend-module-github',
      'nunjitsu',
      'ajv',
      'ajv-formats',
      'jsonschema',
    ].map(name => [name, require(`${name}/package.json`).version]),
  );
  // Whether each pattern compiles as Ajv compiles patterns (unicode mode).
  const patterns = Object.fromEntries(
    (request.patterns ?? []).map(pattern => {
      try {
        new RegExp(pattern, 'u');
        return [pattern, null];
      } catch (error) {
        return [pattern, message(error)];
      }
    }),
  );
  process.stdout.write(JSON.stringify({ versions, entities, templates, patterns }));
}

main().catch(error => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
