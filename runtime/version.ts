import pkg from '../package.json' with { type: 'json' };

/** Recorded in every manifest, so a published product says which platform built it. */
export const PLATFORM_VERSION: string = pkg.version;
