// guestctx's version: injected by the bundler (packaging/build.mjs), a
// development marker when the sources run directly (vitest).
declare const __GUESTCTX_VERSION__: string | undefined;

export const VERSION: string = typeof __GUESTCTX_VERSION__ === 'string' ? __GUESTCTX_VERSION__ : '0.0.0-dev';
