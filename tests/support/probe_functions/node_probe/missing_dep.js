const leftPad = require("left-pad"); // not packaged

exports.handler = async (event) => leftPad(String(event.n), 5);
