/** Import rules checked by `npm run lint` (dependency-cruiser): no cycles, the core never imports Lambda entries. */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes module initialisation order matter and hides layering mistakes.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-does-not-import-entries',
      severity: 'error',
      comment: 'lib/ is the core; functions/ and bin/ wire it, never the other way round.',
      from: { path: '^lib/', pathNot: '^lib/local/' },
      to: { path: '^(functions|bin)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
