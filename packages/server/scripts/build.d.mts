/** packages/server/dist, where the build writes main.mjs and admin.mjs */
export declare const SERVER_DIST: string;
/** Builds the server and the admin command into SERVER_DIST; resolves to that folder. */
export declare function buildServer(): Promise<string>;
