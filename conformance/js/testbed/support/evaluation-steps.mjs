// The steps that name a flag, build an evaluation context, evaluate the flag
// with details and check them (OpenFeature spec 1.3, flag evaluation, and
// 1.4, evaluation details).

import assert from 'node:assert/strict';

import { step } from './step.mjs';
import { typedValue } from './values.mjs';

step(/^a (Boolean|String|Integer|Float|Object)-flag with key "([^"]*)" and a default value "(.*)"$/, function (type, key, value) {
  this.flag = { type, key, defaultValue: typedValue(value, type) };
});

step(/^a context containing a key "([^"]*)", with type "([^"]*)" and with value "(.*)"$/, function (key, type, value) {
  this.context = { ...this.context, [key]: typedValue(unescapeQuotes(value), type) };
});

step(/^a context containing a nested property with outer key "([^"]*)" and inner key "([^"]*)", with value "(.*)"$/, function (outer, inner, value) {
  this.context = { ...this.context, [outer]: { ...this.context?.[outer], [inner]: unescapeQuotes(value) } };
});

step(/^a context containing a targeting key with value "(.*)"$/, function (value) {
  this.context = { ...this.context, targetingKey: unescapeQuotes(value) };
});

step('the flag was evaluated with details', async function () {
  const { type, key, defaultValue } = this.flag;
  const context = this.context ?? {};
  switch (type) {
    case 'Boolean':
      this.details = await this.client.getBooleanDetails(key, defaultValue, context);
      break;
    case 'String':
      this.details = await this.client.getStringDetails(key, defaultValue, context);
      break;
    case 'Integer':
    case 'Float':
      this.details = await this.client.getNumberDetails(key, defaultValue, context);
      break;
    case 'Object':
      this.details = await this.client.getObjectDetails(key, defaultValue, context);
      break;
    default:
      throw new Error(`unknown flag type ${type}`);
  }
});

// OpenFeature spec 1.4: evaluation details carry the value, variant, reason,
// error code and flag metadata.
step(/^the resolved details value should be "(.*)"$/, function (value) {
  assert.deepEqual(this.details.value, typedValue(value, this.flag.type), describe(this.details));
});

step(/^the reason should be "(.*)"$/, function (reason) {
  assert.equal(this.details.reason, reason, describe(this.details));
});

step(/^the variant should be "(.*)"$/, function (variant) {
  assert.equal(this.details.variant, variant, describe(this.details));
});

step(/^the error-code should be "(.*)"$/, function (code) {
  assert.equal(this.details.errorCode, code === '' ? undefined : code, describe(this.details));
});

step('the resolved metadata should contain', function (table) {
  for (const { key, metadata_type: type, value } of table.hashes()) {
    assert.deepEqual(this.details.flagMetadata?.[key], typedValue(value, type), `metadata ${key}: ${describe(this.details)}`);
  }
});

step('the resolved metadata is empty', function () {
  assert.deepEqual(this.details.flagMetadata ?? {}, {}, describe(this.details));
});

/** Unescapes `\"`, as a Cucumber `{string}` parameter does. */
function unescapeQuotes(text) {
  return text.replaceAll('\\"', '"');
}

function describe(details) {
  const { value, variant, reason, errorCode, errorMessage, flagMetadata } = details;
  return `details were ${JSON.stringify({ value, variant, reason, errorCode, errorMessage, flagMetadata })}`;
}
