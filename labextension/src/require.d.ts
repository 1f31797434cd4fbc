// webpack's require, used once to read package.json (the one place the version is written).
declare function require(path: string): unknown;
