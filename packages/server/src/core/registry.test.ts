import { describe, expect, it } from 'vitest';
import { ActionRegistry, defineAction } from './registry.js';
import { S, resultBase } from './schema.js';

const action = (result: ReturnType<typeof S.obj>) =>
  defineAction({ name: 'X', summary: 'x', tag: 'T', input: {}, required: [], resultKey: 'XResult', result, mutates: false, errors: [], handler: async () => ({}) });

describe('ActionRegistry', () => {
  it('refuses an action whose result schema lacks the Success and ResultMsg every answer carries', () => {
    expect(() => new ActionRegistry().register(action(S.obj({ Data: S.str() })))).toThrow(/X: its result schema lacks Success and ResultMsg/);
    expect(() => new ActionRegistry().register(action(S.obj({ ...resultBase, Data: S.str() })))).not.toThrow();
  });
});
