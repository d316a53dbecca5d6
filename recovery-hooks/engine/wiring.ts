// How results flow between the tasks of a workflow (Masakari's taskflow `requires` / `provides`): each input a task
// requires is the result of the latest earlier task that provides it. Checked when a workflow is built
// (workflows/catalog.ts) and when the config lists a workflow's tasks (config.ts): a misordered task list is refused
// before anything runs, with a message naming the task and its missing input.
import type { OptionalInput, Output, Requires, Signature, Task, Workflow } from './task.js';

export function output<T>(name: string, about: string): Output<T> {
  return { name, about };
}

export function optional<T>(input: Output<T>): OptionalInput<T> {
  return { optional: input };
}

/** Signatures by task name, each named by its key: `signatures({ plan: { provides: PLAN } }).plan.name === 'plan'`. */
export function signatures<D extends Record<string, Omit<Signature, 'name'>>>(defs: D): { readonly [N in keyof D & string]: D[N] & { readonly name: N } } {
  return Object.fromEntries(Object.entries(defs).map(([name, sig]) => [name, { ...sig, name }])) as { [N in keyof D & string]: D[N] & { name: N } };
}

/** A task of `signature`: its `run` receives the inputs the signature requires, typed. */
export function implement<R extends Requires, O>(signature: Signature<R, O>, impl: Pick<Task<R, O>, 'run' | 'failureMeans'>): Task<R, O> {
  return { ...signature, ...impl };
}

/** For each task of a workflow, where its inputs come from: input key → the earlier task whose result it is. */
export type Wiring = ReadonlyMap<string, Readonly<Record<string, string>>>;

/**
 * Wire `tasks` in their order. Each problem names the task, the input no earlier task provides, and which of `known`
 * (every task such a workflow may list; by default `tasks`) would provide it.
 */
export function wire(tasks: readonly Signature[], known: readonly Signature[] = tasks): { wiring: Wiring; problems: string[] } {
  const providers = new Map<string, string>();
  const wiring = new Map<string, Record<string, string>>();
  const problems: string[] = [];
  for (const task of tasks) {
    if (wiring.has(task.name)) problems.push(`${task.name} is listed twice (results are kept by task name)`);
    const sources: Record<string, string> = {};
    for (const [key, input] of Object.entries(task.requires ?? {})) {
      const wanted = 'optional' in input ? input.optional : input;
      const from = providers.get(wanted.name);
      if (from) sources[key] = from;
      else if (!('optional' in input)) {
        const could = known.filter((k) => k.provides?.name === wanted.name).map((k) => k.name);
        problems.push(
          `${task.name} needs ${could.length ? could.join(' or ') : `a task providing ${wanted.name}`} before it (its input ${key}: ${wanted.about})`,
        );
      }
    }
    wiring.set(task.name, sources);
    if (task.provides) providers.set(task.provides.name, task.name);
  }
  return { wiring, problems };
}

/** Thrown when a workflow is built with a task whose input no earlier task provides: a programming error. */
export class WorkflowOrderError extends Error {
  override name = 'WorkflowOrderError';
}

/** The wiring of `workflow`; throws WorkflowOrderError naming every missing input. */
export function wireWorkflow(workflow: Pick<Workflow, 'type' | 'tasks'>): Wiring {
  const { wiring, problems } = wire(workflow.tasks);
  if (problems.length) throw new WorkflowOrderError(`workflow ${workflow.type} [${workflow.tasks.map((t) => t.name).join(', ')}]: ${problems.join('; ')}`);
  return wiring;
}

/** `workflow`, once its order is checked (at build time, so a bad one stops the receiver from starting). */
export function defineWorkflow<W extends Workflow>(workflow: W): W {
  wireWorkflow(workflow);
  return workflow;
}

/** The inputs of `task` from the results so far (by task name); an optional input no earlier task provides is absent. */
export function inputsOf(task: Pick<Signature, 'name'>, wiring: Wiring, results: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(wiring.get(task.name) ?? {}).map(([key, from]) => [key, results[from]]));
}
