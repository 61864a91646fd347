import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { answerTrpcRequest } from "../lib/trpc-handler.server.ts";

export const loader = (args: LoaderFunctionArgs) => answerTrpcRequest(args);
export const action = (args: ActionFunctionArgs) => answerTrpcRequest(args);
