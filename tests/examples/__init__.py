"""Tests of the example Promises in examples/promises: pipelines, APIs and end-to-end runs."""
