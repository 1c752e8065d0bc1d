export { benchCommand, trainCommand, exportCommand, listCommand, reportCommand, writeTrainingData } from "./commands.ts";
