/** Wall clock, injected where a timestamp is taken so tests can pin or advance time. */
export type Clock = () => Date;

/** The real clock: what production code passes when nothing else is given. */
export const systemClock: Clock = () => new Date();
