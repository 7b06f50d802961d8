// An ES module handler, as nodejs18.x+ supports.
export const handler = async (event) => ({ module: "esm", got: event });
