// The steps of config.feature: options and FLAGD_* variables given to a
// provider, and the configuration the provider resolves from them.

import assert from 'node:assert/strict';

import { optionName, resolvedConfig } from './config.mjs';
import { step } from './step.mjs';
import { optionValue, sameValue } from './values.mjs';

step(/^an option "([^"]*)" of type "([^"]*)" with value "(.*)"$/, function (name, type, value) {
  this.options[optionName(name)] = optionValue(value, type);
});

step(/^an environment variable "([^"]*)" with value "(.*)"$/, function (name, value) {
  this.setEnv(name, value);
});

step('a config was initialized', async function () {
  try {
    this.config = await resolvedConfig(this.options);
  } catch (error) {
    this.configError = error;
  }
});

step(/^the option "([^"]*)" of type "([^"]*)" should have the value "(.*)"$/, function (name, type, value) {
  assert.ifError(this.configError);
  const expected = optionValue(value, type);
  const actual = this.config[optionName(name)];
  if (!sameValue(actual, expected, type)) {
    assert.fail(`option ${name}: expected ${JSON.stringify(expected)}, the provider resolved ${JSON.stringify(actual)}`);
  }
});

step('we should have an error', function () {
  if (!this.configError) {
    assert.fail(`the provider accepted the options: ${JSON.stringify(this.config)}`);
  }
});
