/** A log for code under test that would otherwise write to the test's output. */
export const silentLog = { info: () => {}, warn: () => {} };
