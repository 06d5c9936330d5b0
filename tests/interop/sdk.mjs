// sdk.mjs: HubSpot's official Node SDK (@hubspot/api-client, pinned in package.json) against hubgate.
//
// tests/test_interop.py starts the mock upstream and hubgate, mints the tokens and runs this script
// with the environment below; it prints one JSON document on stdout describing what the SDK saw in
// each scenario (the SDK's own objects: model class names, ApiException code, body and headers),
// and the Python side asserts on it and on what the mock received. Nothing is asserted here: this
// script only drives the SDK as an application would, and every expectation lives in the Python test.
//
// Every scenario sends its own X-Request-Id (per-call SDK middleware); hubgate passes a valid one
// upstream, so the Python side finds each scenario's upstream requests in the mock's records.
//
// Environment: HUBGATE_URL (basePath), TOKEN_OK (has a scope of the route), TOKEN_NO_SCOPE,
// TOKEN_EXPIRED. Exit status 0 whenever the JSON document was written.

import { createRequire } from "node:module";

// the SDK is CommonJS: load it (and its generated v4 associations models) as an application would
const require = createRequire(import.meta.url);
const { Client } = require("@hubspot/api-client");
const assoc = require("@hubspot/api-client/lib/codegen/crm/associations/v4/index.js");
const sdkVersion = require("@hubspot/api-client/package.json").version;

const env = (name) => {
    const v = process.env[name];
    if (!v) {
        throw new Error(`environment variable ${name} is not set`);
    }
    return v;
};
const basePath = env("HUBGATE_URL");

// The SDK applies its retry decorator when an API object is first reached, from a process-wide
// singleton that the newest Client sets: take the batch API right after creating its Client.
function batchApi(token, retries = 0) {
    const config = { basePath, accessToken: token };
    if (retries > 0) {
        config.numberOfApiCallRetries = retries;
    }
    return new Client(config).crm.associations.v4.batchApi;
}

// The per-call options that add X-Request-Id. In 13.5.0 the generated APIs run the configured
// middleware (defaultHeaders, the SDK's User-Agent) only when a call passes middleware of its own,
// so "append" keeps the SDK's own headers too.
function withRequestId(requestId) {
    return {
        middlewareMergeStrategy: "append",
        middleware: [
            {
                pre: async (ctx) => {
                    ctx.setHeaderParam("X-Request-Id", requestId);
                    return ctx;
                },
                post: async (rsp) => rsp,
            },
        ],
    };
}

const HEADERS = [
    "content-type",
    "retry-after",
    "www-authenticate",
    "x-hubgate-normalized",
    "x-hubgate-route",
    "x-hubspot-correlation-id",
    "x-hubspot-ratelimit-remaining",
    "x-request-id",
];

function pickHeaders(h) {
    const out = {};
    for (const name of HEADERS) {
        if (h && h[name] !== undefined) {
            out[name] = h[name];
        }
    }
    return out;
}

function describeResult(r) {
    return {
        type: r?.constructor?.name,
        isModel: r instanceof assoc.BatchResponsePublicDefaultAssociation,
        status: r?.status,
        numErrors: r?.numErrors ?? null,
        startedAtIsDate: r?.startedAt instanceof Date && !Number.isNaN(r.startedAt.getTime()),
        completedAtIsDate: r?.completedAt instanceof Date && !Number.isNaN(r.completedAt.getTime()),
        results: (r?.results ?? []).map((x) => ({
            type: x?.constructor?.name,
            isModel: x instanceof assoc.PublicDefaultAssociation,
            from: x?._from?.id,
            fromType: x?._from?.constructor?.name,
            to: x?.to?.id,
            specType: x?.associationSpec?.constructor?.name,
            category: x?.associationSpec?.associationCategory,
            typeId: x?.associationSpec?.associationTypeId,
        })),
    };
}

function describeError(e) {
    return {
        outcome: "rejected",
        type: e?.constructor?.name,
        isApiException: e instanceof assoc.ApiException,
        code: e?.code ?? null,
        body: e?.body ?? null,
        headers: pickHeaders(e?.headers),
        message: String(e?.message ?? e).split("\n")[0],
    };
}

async function run(fn) {
    const t0 = Date.now();
    try {
        const value = await fn();
        return { outcome: "resolved", ms: Date.now() - t0, ...value };
    } catch (e) {
        return { ms: Date.now() - t0, ...describeError(e) };
    }
}

const one = (from, to) => ({ inputs: [{ _from: { id: from }, to: { id: to } }] });

// batchApi.createDefault as an application calls it, plus our X-Request-Id
async function createDefault(token, requestId, fromType, toType, body, retries = 0) {
    return { result: await batchApi(token, retries).createDefault(fromType, toType, body, withRequestId(requestId)) };
}

const scenarios = {
    // the happy path through the model classes; the repeated pair is removed by hubgate
    ok: () =>
        run(async () => {
            const body = new assoc.BatchInputPublicDefaultAssociationMultiPost();
            const a = new assoc.PublicDefaultAssociationMultiPost();
            a._from = { id: "1" };
            a.to = { id: "2" };
            body.inputs = [a, { _from: { id: "3" }, to: { id: "4" } }, { _from: { id: "1" }, to: { id: "2" } }];
            const r = await createDefault(env("TOKEN_OK"), "sdk-ok", "contacts", "companies", body);
            return { result: describeResult(r.result) };
        }),
    // the same call with the HTTP answer's headers (the SDK's *WithHttpInfo variant)
    okHttpInfo: () =>
        run(async () => {
            const api = batchApi(env("TOKEN_OK"));
            const info = await api.createDefaultWithHttpInfo("0-1", "0-3", one(" 5 ", "6"), withRequestId("sdk-ok-info"));
            return { httpStatusCode: info.httpStatusCode, headers: pickHeaders(info.headers), result: describeResult(info.data) };
        }),
    noScope: () => run(() => createDefault(env("TOKEN_NO_SCOPE"), "sdk-no-scope", "contacts", "companies", one("1", "2"))),
    expired: () => run(() => createDefault(env("TOKEN_EXPIRED"), "sdk-expired", "contacts", "companies", one("1", "2"))),
    invalidId: () =>
        run(() =>
            createDefault(env("TOKEN_OK"), "sdk-invalid-id", "contacts", "companies", {
                inputs: [
                    { _from: { id: "1" }, to: { id: "2" } },
                    { _from: { id: "12x" }, to: { id: "2" } },
                ],
            }),
        ),
    // a caller who writes "from" as in HubSpot's docs: the SDK's serializer drops it
    jsFromDropped: () =>
        run(() =>
            createDefault(env("TOKEN_OK"), "sdk-js-from", "contacts", "companies", {
                inputs: [{ from: { id: "1" }, to: { id: "2" } }],
            }),
        ),
    unknownType: () => run(() => createDefault(env("TOKEN_OK"), "sdk-unknown-type", "widgets", "companies", one("1", "2"))),
    rateLimited: () => run(() => createDefault(env("TOKEN_OK"), "sdk-429", "contacts", "companies", one("99429", "2"))),
    // the SDK retries a secondly 429 by its body's message: 2 attempts, one wait of 1 s
    rateLimitedRetried: () =>
        run(() => createDefault(env("TOKEN_OK"), "sdk-429-retry", "contacts", "companies", one("99429", "2"), 2)),
    // ... and never a DAILY one (policyName)
    rateLimitedDaily: () =>
        run(() => createDefault(env("TOKEN_OK"), "sdk-429-daily", "contacts", "companies", one("994291", "2"), 2)),
    // HubSpot's 207 (per-input errors) passes through; this SDK version throws on it
    multiStatus: () =>
        run(() =>
            createDefault(env("TOKEN_OK"), "sdk-207", "contacts", "companies", {
                inputs: [
                    { _from: { id: "1" }, to: { id: "2" } },
                    { _from: { id: "992071" }, to: { id: "3" } },
                ],
            }),
        ),
};

const out = { node: process.version, sdk: sdkVersion, scenarios: {} };
for (const [name, fn] of Object.entries(scenarios)) {
    out.scenarios[name] = await fn();
}
process.stdout.write(JSON.stringify(out) + "\n");
