// Drives the official ElevenLabs JS SDK (@elevenlabs/elevenlabs-js, pinned in package.json) against a
// server, for the Python tests. Usage:
//   node tests/js/sdk_client.mjs <scenario> <baseUrl> [jsonArgs]
// Prints exactly one JSON object on stdout. Exit 0 on success, 1 on an unexpected error
// ({"error": String(err), "name": err.constructor.name}) or bad usage.
// jsonArgs may also carry client options: maxRetries, timeoutInSeconds.
import { writeFileSync } from "node:fs";
import { ElevenLabsClient } from "@elevenlabs/elevenlabs-js";

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

function ttsRequest(args) {
    const req = { text: args.text };
    if (args.modelId !== undefined) req.modelId = args.modelId;
    if (args.outputFormat !== undefined) req.outputFormat = args.outputFormat;
    return req;
}

async function readAll(stream) {
    const parts = [];
    let chunks = 0;
    for await (const chunk of stream) {
        parts.push(Buffer.from(chunk));
        chunks += 1;
    }
    return { data: Buffer.concat(parts), chunks };
}

function header(headers, name) {
    const v = headers?.get ? headers.get(name) : undefined;
    return v === undefined ? null : v;
}

function timestampsSummary(items, out) {
    const audio = [];
    let characters = "";
    let normalizedCharacters = "";
    const starts = [];
    for (const item of items) {
        audio.push(Buffer.from(item.audioBase64 ?? "", "base64"));
        if (item.alignment) {
            characters += item.alignment.characters.join("");
            starts.push(...item.alignment.characterStartTimesSeconds);
        }
        if (item.normalizedAlignment) {
            normalizedCharacters += item.normalizedAlignment.characters.join("");
        }
    }
    const data = Buffer.concat(audio);
    if (out) writeFileSync(out, data);
    return { chunks: items.length, bytes: data.length, characters, starts, normalizedCharacters };
}

function voiceSummary(v) {
    return {
        voiceId: v.voiceId,
        name: v.name ?? null,
        category: v.category ?? null,
        labels: v.labels ?? null,
        settings: v.settings ?? null,
    };
}

const scenarios = {
    async convert(client, args) {
        const { data, rawResponse } = await client.textToSpeech
            .convert(args.voiceId, ttsRequest(args))
            .withRawResponse();
        const { data: bytes } = await readAll(data);
        if (args.out) writeFileSync(args.out, bytes);
        const count = header(rawResponse.headers, "x-character-count");
        return {
            bytes: bytes.length,
            requestId: header(rawResponse.headers, "request-id"),
            characterCount: count === null || count === "" || isNaN(Number(count)) ? count : Number(count),
            contentType: header(rawResponse.headers, "content-type"),
        };
    },
    async stream(client, args) {
        const stream = await client.textToSpeech.stream(args.voiceId, ttsRequest(args));
        const { data, chunks } = await readAll(stream);
        if (args.out) writeFileSync(args.out, data);
        return { bytes: data.length, chunks };
    },
    async streamWithTimestamps(client, args) {
        const stream = await client.textToSpeech.streamWithTimestamps(args.voiceId, ttsRequest(args));
        const items = [];
        for await (const item of stream) items.push(item);
        return timestampsSummary(items, args.out);
    },
    async convertWithTimestamps(client, args) {
        const resp = await client.textToSpeech.convertWithTimestamps(args.voiceId, ttsRequest(args));
        return timestampsSummary([resp], args.out);
    },
    async models(client) {
        const models = await client.models.list();
        return { count: models.length, modelIds: models.map((m) => m.modelId) };
    },
    async voicesSearch(client, args) {
        const req = {};
        for (const k of ["pageSize", "search", "nextPageToken", "sort", "sortDirection", "voiceType", "category", "includeTotalCount"]) {
            if (args[k] !== undefined) req[k] = args[k];
        }
        const r = await client.voices.search(req);
        return {
            count: r.voices.length,
            hasMore: r.hasMore,
            totalCount: r.totalCount,
            nextPageToken: r.nextPageToken ?? null,
            voiceIds: r.voices.map((v) => v.voiceId),
        };
    },
    async voicesGetAll(client, args) {
        const req = {};
        if (args.showLegacy !== undefined) req.showLegacy = args.showLegacy;
        const r = await client.voices.getAll(req);
        return { count: r.voices.length, voiceIds: r.voices.map((v) => v.voiceId) };
    },
    async voiceGet(client, args) {
        return voiceSummary(await client.voices.get(args.voiceId));
    },
    async user(client) {
        const u = await client.user.get();
        return { userId: u.userId, tier: u.subscription.tier };
    },
    async subscription(client) {
        const s = await client.user.subscription.get();
        return { tier: s.tier, characterCount: s.characterCount, characterLimit: s.characterLimit };
    },
    async error(client, args) {
        try {
            const stream = await client.textToSpeech.convert(args.voiceId, ttsRequest(args));
            const { data } = await readAll(stream);
            return { __fail: true, error: `expected an error, got ${data.length} audio bytes`, name: null };
        } catch (err) {
            return {
                name: err?.constructor?.name ?? null,
                statusCode: err?.statusCode ?? null,
                body: err?.body ?? null,
            };
        }
    },
};

async function main() {
    const [scenario, baseUrl, rawArgs] = process.argv.slice(2);
    if (!scenario || !baseUrl || !(scenario in scenarios)) {
        emit({
            error: `usage: node sdk_client.mjs <${Object.keys(scenarios).join("|")}> <baseUrl> [jsonArgs]`,
            name: "UsageError",
        });
        return 1;
    }
    const args = rawArgs ? JSON.parse(rawArgs) : {};
    const options = { apiKey: process.env.ELEVENLABS_API_KEY ?? "local", baseUrl };
    if (args.maxRetries !== undefined) options.maxRetries = args.maxRetries;
    if (args.timeoutInSeconds !== undefined) options.timeoutInSeconds = args.timeoutInSeconds;
    const client = new ElevenLabsClient(options);
    const result = await scenarios[scenario](client, args);
    if (result && result.__fail) {
        delete result.__fail;
        emit(result);
        return 1;
    }
    emit(result);
    return 0;
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (err) => {
        emit({ error: String(err), name: err?.constructor?.name ?? null });
        process.exitCode = 1;
    },
);
