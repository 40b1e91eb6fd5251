#!/usr/bin/env node
// A small CRI client: drives a container runtime's RuntimeService (runtime.v1) over its socket,
// the way a kubelet does, for the end-to-end tests and scripts/demo. There is no crictl in
// Debian 12 (only kubernetes-client 1.20, without it).
//
//   cri.js --address SOCKET [--timeout SECONDS] [--trace] COMMAND ...
//     version                  the runtime's name and versions, as JSON
//     call METHOD [JSON]       one RuntimeService call (request JSON, default {}); prints the
//                              response as JSON (field names as in api.proto, enums by name)
//     pod-up SPEC              RunPodSandbox, CreateContainer, StartContainer, as a kubelet
//                              starts a one-container pod; SPEC (JSON, or @FILE) is
//                              {"handler": H, "sandbox": PodSandboxConfig,
//                               "container": ContainerConfig}. Prints {"pod_id", "container_id"}.
//                              When a step fails, removes what it made and fails naming the step.
//     pod-down POD_ID...       stops and removes the pods' containers, then the pods, as a
//                              kubelet does when a pod goes away; unknown ids are not an error
//     down-all                 pod-down of every pod sandbox the runtime knows
//
// Defaults pod-up fills in: metadata uid and attempt, and the namespace options of sandbox and
// container (network NODE, so that no CNI is needed; pid CONTAINER; ipc POD), like the kubelet
// for a hostNetwork pod.
//
// --trace: one line per call on stderr, "cri: METHOD N ms".
//
// Errors: one line on stderr, "cri: METHOD: <the runtime's message>", exit status 1; wrong
// usage exits 2; a missing npm package exits 3 (the caller installs @grpc/grpc-js and
// @grpc/proto-loader and sets NODE_PATH).
'use strict';

const path = require('path');
const fs = require('fs');
const crypto = require('crypto');

function usage(msg) {
	process.stderr.write(`cri: ${msg}\nusage: cri.js --address SOCKET [--timeout SECONDS] ` +
		'version | call METHOD [JSON] | pod-up SPEC | pod-down POD_ID... | down-all\n');
	process.exit(2);
}

let grpc, protoLoader;
try {
	grpc = require('@grpc/grpc-js');
	protoLoader = require('@grpc/proto-loader');
} catch (e) {
	process.stderr.write(`cri: ${e.message.split('\n')[0]}; install @grpc/grpc-js and ` +
		'@grpc/proto-loader and put their node_modules in NODE_PATH\n');
	process.exit(3);
}

const args = process.argv.slice(2);
let address = null;
let timeout = 60;
let trace = false;
while (args.length && args[0].startsWith('--')) {
	const opt = args.shift();
	if (opt === '--address') address = args.shift();
	else if (opt === '--timeout') timeout = Number(args.shift());
	else if (opt === '--trace') trace = true;
	else usage(`unknown option ${opt}`);
}
if (!address) usage('--address is required');
if (!(timeout > 0)) usage('--timeout needs a positive number of seconds');
if (!args.length) usage('no command');

const def = protoLoader.loadSync(path.join(__dirname, 'api.proto'), {
	keepCase: true,
	longs: String,
	enums: String,
	defaults: true,
});
const api = grpc.loadPackageDefinition(def).runtime.v1;
const target = address.includes('://') ? address : `unix://${address}`;
const client = new api.RuntimeService(target, grpc.credentials.createInsecure(), {
	'grpc.max_receive_message_length': 16 * 1024 * 1024,
});

class CallError extends Error {
	constructor(method, err) {
		super(`${method}: ${err.details || err.message}`);
		this.method = method;
	}
}

function call(method, request) {
	if (typeof client[method] !== 'function')
		return Promise.reject(new Error(`${method}: not a RuntimeService call in api.proto`));
	const t0 = Date.now();
	const deadline = new Date(t0 + timeout * 1000);
	return new Promise((resolve, reject) => {
		client[method](request, { deadline }, (err, res) => {
			if (trace)
				process.stderr.write(`cri: ${method} ${Date.now() - t0} ms${err ? ' (failed)' : ''}\n`);
			if (err) reject(new CallError(method, err));
			else resolve(res);
		});
	});
}

function parseJson(text, what) {
	if (text.startsWith('@')) text = fs.readFileSync(text.slice(1), 'utf8');
	try {
		return JSON.parse(text);
	} catch (e) {
		usage(`${what}: ${e.message}`);
	}
}

function hostNamespaces(ns) {
	return Object.assign({ network: 'NODE', pid: 'CONTAINER', ipc: 'POD' }, ns || {});
}

async function podUp(spec) {
	const sandbox = spec.sandbox || {};
	sandbox.metadata = Object.assign({ uid: crypto.randomUUID(), attempt: 0 }, sandbox.metadata);
	sandbox.linux = sandbox.linux || {};
	sandbox.linux.security_context = sandbox.linux.security_context || {};
	const sns = sandbox.linux.security_context;
	sns.namespace_options = hostNamespaces(sns.namespace_options);

	const container = spec.container || {};
	container.metadata = Object.assign({ attempt: 0 }, container.metadata);
	container.linux = container.linux || {};
	container.linux.security_context = container.linux.security_context || {};
	const cns = container.linux.security_context;
	cns.namespace_options = hostNamespaces(cns.namespace_options);

	const pod = await call('RunPodSandbox', { config: sandbox, runtime_handler: spec.handler || '' });
	const podId = pod.pod_sandbox_id;
	let containerId = null;
	try {
		const c = await call('CreateContainer', {
			pod_sandbox_id: podId, config: container, sandbox_config: sandbox,
		});
		containerId = c.container_id;
		await call('StartContainer', { container_id: containerId });
	} catch (e) {
		await podDown([podId]).catch((cleanupErr) => {
			process.stderr.write(`cri: cleanup after the failure: ${cleanupErr.message}\n`);
		});
		throw e;
	}
	return { pod_id: podId, container_id: containerId };
}

function notFound(e) {
	return /not ?found|does not exist/i.test(e.message);
}

async function podDown(ids) {
	for (const id of ids) {
		let list;
		try {
			list = await call('ListContainers', { filter: { pod_sandbox_id: id } });
		} catch (e) {
			if (notFound(e)) continue;
			throw e;
		}
		for (const c of list.containers) {
			await call('StopContainer', { container_id: c.id, timeout: 0 });
			await call('RemoveContainer', { container_id: c.id });
		}
		try {
			await call('StopPodSandbox', { pod_sandbox_id: id });
			await call('RemovePodSandbox', { pod_sandbox_id: id });
		} catch (e) {
			if (!notFound(e)) throw e;
		}
	}
}

async function main() {
	const cmd = args.shift();
	switch (cmd) {
	case 'version':
		return call('Version', { version: 'v1' });
	case 'call': {
		const method = args.shift();
		if (!method) usage('call: no METHOD');
		return call(method, args.length ? parseJson(args.shift(), 'request') : {});
	}
	case 'pod-up':
		if (args.length !== 1) usage('pod-up: one SPEC');
		return podUp(parseJson(args[0], 'SPEC'));
	case 'pod-down':
		await podDown(args);
		return null;
	case 'down-all': {
		const pods = await call('ListPodSandbox', {});
		await podDown(pods.items.map((p) => p.id));
		return null;
	}
	default:
		return usage(`unknown command ${cmd}`);
	}
}

main().then((res) => {
	if (res !== null && res !== undefined) process.stdout.write(JSON.stringify(res) + '\n');
	client.close();
}, (e) => {
	process.stderr.write(`cri: ${e.message}\n`);
	client.close();
	process.exitCode = 1;
});
