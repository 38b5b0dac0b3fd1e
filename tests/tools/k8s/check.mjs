// check.mjs: tools/kubernetes against Kubernetes' API schemas, and the
// policies volume laid out as the kubelet lays out a ConfigMap.
//
//   node check.mjs validate MODULES FILE...
//   node check.mjs project-policies MODULES DIR FILE...
//
// MODULES is the directory tools/install-deps --npm filled (package.json
// beside this file). validate reads every document as Kubernetes does
// (YAML 1.1, no duplicate keys) and checks it three ways, printing
// FILE:LINE: PATH: message for each problem and exiting 1:
//  - kubernetes-models' JSON schemas: types, formats, enums, required keys;
//  - TypeScript's excess-property check against the same models'
//    interfaces: a key the API does not have (hostPid for hostPID) fails,
//    which the schemas let through;
//  - references between the documents: namespaces, the service account,
//    volumes and ConfigMaps, role bindings, $(VAR) in a container's args.
// project-policies writes into DIR what the kubelet's atomic writer makes
// of the ConfigMap volume that holds the DaemonSet's --policies, and prints
// the directory guardian would be given.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [cmd, modulesArg, ...rest] = process.argv.slice(2);
if (!modulesArg || !["validate", "project-policies"].includes(cmd)) {
	console.error("usage: check.mjs validate MODULES FILE... | project-policies MODULES DIR FILE...");
	process.exit(2);
}
const modules = path.resolve(modulesArg);
const require = createRequire(path.join(modules, "package.json"));
const YAML = require("yaml");

let problems = 0;
function problem(where, msg) {
	console.log(`${where.file}:${where.line}: ${where.path}: ${msg}`);
	problems++;
}

/* --- reading: YAML nodes to values, each path's line kept --------------- */

function pathJoin(base, key) {
	return typeof key === "number" ? `${base}[${key}]` : base ? `${base}.${key}` : key;
}

function toValue(node, p, doc) {
	const line = node ? doc.lc.linePos(node.range[0]).line : doc.line;
	doc.lines.set(p, line);
	if (node === null || node === undefined)
		return null;
	if (YAML.isAlias(node)) {
		problem({ file: doc.file, line, path: p || "." }, "an alias: write the value out");
		return null;
	}
	if (YAML.isMap(node)) {
		const obj = {};
		for (const pair of node.items) {
			const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
			if (typeof key !== "string") {
				problem({ file: doc.file, line, path: p || "." }, "a key that is not a string");
				continue;
			}
			const kp = pathJoin(p, key);
			obj[key] = toValue(pair.value, kp, doc);
			if (pair.key.range)
				doc.lines.set(kp, doc.lc.linePos(pair.key.range[0]).line);
		}
		return obj;
	}
	if (YAML.isSeq(node))
		return node.items.map((item, i) => toValue(item, pathJoin(p, i), doc));
	return node.value;
}

function load(files) {
	const docs = [];
	for (const file of files) {
		const src = fs.readFileSync(file, "utf8");
		const lc = new YAML.LineCounter();
		// Kubernetes reads YAML 1.1 (0644 is octal, yes is true).
		const parsed = YAML.parseAllDocuments(src, { version: "1.1", lineCounter: lc, uniqueKeys: true });
		for (const d of Array.isArray(parsed) ? parsed : []) {
			const at = d.contents ? lc.linePos(d.contents.range[0]).line : 1;
			for (const e of [...d.errors, ...d.warnings])
				problem({ file, line: e.linePos?.[0]?.line ?? at, path: "." },
					`yaml: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`);
			if (d.errors.length || !d.contents)
				continue;
			const doc = { file, line: at, lc, lines: new Map() };
			doc.value = toValue(d.contents, "", doc);
			docs.push(doc);
		}
	}
	return docs;
}

// The line of the nearest path that has one ("a.b[2].c", then "a.b[2]"...).
function where(doc, p) {
	for (let q = p; ; q = q.replace(/(\.[^.[\]]+|\[\d+\])$/, "")) {
		if (doc.lines.has(q))
			return { file: doc.file, line: doc.lines.get(q), path: p || "." };
		if (!q)
			return { file: doc.file, line: doc.line, path: p || "." };
	}
}

/* --- the models: a class (schemas) and an interface (TypeScript) -------- */

function modelOf(doc) {
	const { apiVersion, kind } = doc.value || {};
	if (typeof apiVersion !== "string" || typeof kind !== "string") {
		problem(where(doc, ""), "not a Kubernetes object: apiVersion and kind are required");
		return null;
	}
	let mod;
	try {
		mod = require(`kubernetes-models/${apiVersion}`);
	} catch {
		problem(where(doc, "apiVersion"), `unknown apiVersion '${apiVersion}'`);
		return null;
	}
	if (typeof mod[kind] !== "function") {
		problem(where(doc, "kind"), `no kind '${kind}' in ${apiVersion}`);
		return null;
	}
	return { cls: mod[kind], module: `kubernetes-models/${apiVersion}/${kind}`, iface: `I${kind}` };
}

function checkSchemas(doc, model) {
	try {
		new model.cls(doc.value).validate();
	} catch (e) {
		if (!Array.isArray(e.errors))
			throw e;
		const seen = new Set();
		for (const err of e.errors) {
			// "must match exactly one schema in oneOf" only repeats the
			// alternatives' own complaints.
			if (err.keyword === "oneOf" || err.keyword === "anyOf")
				continue;
			const p = err.instancePath.split("/").slice(1)
				.reduce((acc, k) => pathJoin(acc, /^\d+$/.test(k) ? Number(k) : k.replace(/~1/g, "/").replace(/~0/g, "~")), "");
			const msg = err.keyword === "additionalProperties" ? `unknown key '${err.params.additionalProperty}'` : err.message;
			if (!seen.has(p + msg)) {
				seen.add(p + msg);
				problem(where(doc, p), msg);
			}
		}
	}
}

function tsSource(docs, models) {
	const lines = [], map = {};
	docs.forEach((doc, i) => {
		if (!models[i])
			return;
		lines.push(`import type { ${models[i].iface} as T${i} } from ${JSON.stringify(models[i].module)};`);
	});
	docs.forEach((doc, i) => {
		if (!models[i])
			return;
		writeValue(`export const d${i}: T${i} = `, doc.value, "", ";", lines, map, i);
	});
	return { text: lines.join("\n") + "\n", map };
}

// Each key on a line of its own, so a diagnostic's line names one path.
function writeValue(prefix, value, p, suffix, lines, map, di) {
	map[lines.length] = { di, p };
	if (value === null || typeof value !== "object") {
		lines.push(prefix + JSON.stringify(value) + suffix);
		return;
	}
	const isArr = Array.isArray(value);
	const entries = isArr ? value.map((v, i) => [i, v]) : Object.entries(value);
	if (!entries.length) {
		lines.push(prefix + (isArr ? "[]" : "{}") + suffix);
		return;
	}
	lines.push(prefix + (isArr ? "[" : "{"));
	for (const [k, v] of entries)
		writeValue(isArr ? "" : `${JSON.stringify(k)}: `, v, pathJoin(p, k), ",", lines, map, di);
	map[lines.length] = { di, p };
	lines.push((isArr ? "]" : "}") + suffix);
}

function checkKeys(docs, models) {
	const ts = require("typescript");
	const { text, map } = tsSource(docs, models);
	const dir = path.join(modules, "gen");
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, "manifests.ts");
	fs.writeFileSync(file, text);
	const program = ts.createProgram([file], {
		strict: true, noEmit: true, skipLibCheck: true, types: [],
		module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
	});
	const sf = program.getSourceFile(file);
	unknownKeys(ts, program.getTypeChecker(), sf, map, docs);
	for (const d of ts.getPreEmitDiagnostics(program)) {
		// Excess properties: TypeScript stops at the first failing
		// property of a literal; unknownKeys has reported every one.
		if (d.code === 2353 || d.code === 2561)
			continue;
		const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
		if (!d.file || path.resolve(d.file.fileName) !== file) {
			console.log(`check.mjs: TypeScript: ${msg}`);
			problems++;
			continue;
		}
		const { line } = d.file.getLineAndCharacterOfPosition(d.start);
		const at = map[line];
		if (!at) {
			console.log(`check.mjs: ${file}:${line + 1}: ${msg}`);
			problems++;
			continue;
		}
		problem(where(docs[at.di], at.p), msg);
	}
}

// Every key of every object literal against the interface it is typed
// with, unless that takes any key (labels, annotations, a ConfigMap's data).
function unknownKeys(ts, checker, sf, map, docs) {
	const hasKey = (t, name) => (t.isUnion() ? t.types : [t]).some((u) => checker.getPropertyOfType(u, name));
	const openEnded = (t) => (t.isUnion() ? t.types : [t]).some((u) =>
		(u.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) || checker.getIndexInfoOfType(u, ts.IndexKind.String));
	const visit = (node) => {
		const t0 = ts.isObjectLiteralExpression(node) && checker.getContextualType(node);
		const t = t0 && checker.getNonNullableType(t0);
		if (t && !openEnded(t))
			for (const prop of node.properties) {
				if (!ts.isPropertyAssignment(prop) || !ts.isStringLiteral(prop.name) || hasKey(t, prop.name.text))
					continue;
				const name = prop.name.text;
				const near = checker.getPropertiesOfType(t).map((s) => s.name).find((k) => k.toLowerCase() === name.toLowerCase());
				const at = map[sf.getLineAndCharacterOfPosition(prop.getStart(sf)).line];
				problem(where(docs[at.di], at.p), `unknown key '${name}' (${checker.typeToString(t)} has no such field)` +
					(near ? `; did you mean '${near}'?` : ""));
			}
		ts.forEachChild(node, visit);
	};
	visit(sf);
}

/* --- references between the documents ------------------------------------ */

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"]);

function find(docs, kind, name, namespace) {
	return docs.find((d) => d.value.kind === kind && d.value.metadata?.name === name &&
		(namespace === undefined || d.value.metadata?.namespace === namespace));
}

function checkPod(docs, doc, spec, p) {
	const ns = doc.value.metadata?.namespace;
	const sa = spec.serviceAccountName;
	if (sa && !find(docs, "ServiceAccount", sa, ns))
		problem(where(doc, `${p}.serviceAccountName`), `no ServiceAccount '${sa}' in namespace '${ns}' among these files`);
	const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
	(spec.volumes || []).forEach((v, i) => {
		const cm = v.configMap;
		if (cm && !cm.optional && !find(docs, "ConfigMap", cm.name, ns))
			problem(where(doc, `${p}.volumes[${i}].configMap.name`), `no ConfigMap '${cm.name}' in namespace '${ns}' among these files`);
	});
	for (const field of ["initContainers", "containers"])
		(spec[field] || []).forEach((c, ci) => {
			const cp = `${p}.${field}[${ci}]`;
			(c.volumeMounts || []).forEach((m, mi) => {
				if (!volumes.has(m.name))
					problem(where(doc, `${cp}.volumeMounts[${mi}].name`), `no volume '${m.name}' in the pod`);
			});
			// guardian's /metrics must be a declared port of the container,
			// the one a Prometheus scrape annotation names.
			const args = [...(c.command || []), ...(c.args || [])].map(String);
			const listen = args.find((a) => a.startsWith("--metrics-listen="));
			if (listen) {
				const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
				const ai = (c.args || []).map(String).indexOf(listen);
				if (!(c.ports || []).some((cport) => cport.containerPort === port))
					problem(where(doc, `${cp}.args[${ai}]`), `--metrics-listen port ${port} is not among the container's ports`);
				const ann = doc.value.spec?.template?.metadata?.annotations || {};
				if (ann["prometheus.io/port"] !== undefined && Number(ann["prometheus.io/port"]) !== port)
					problem(where(doc, "spec.template.metadata.annotations"),
						`prometheus.io/port ${ann["prometheus.io/port"]} is not --metrics-listen's port ${port}`);
			}
			// The kubelet leaves an undefined $(VAR) as it is, silently.
			const env = new Set((c.env || []).map((e) => e.name));
			for (const field2 of ["command", "args"])
				(c[field2] || []).forEach((a, ai) => {
					for (const m of String(a).matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
						if (!env.has(m[1]))
							problem(where(doc, `${cp}.${field2}[${ai}]`), `$(${m[1]}) is not an env of this container`);
				});
		});
}

function checkReferences(docs) {
	for (const doc of docs) {
		const v = doc.value, ns = v.metadata?.namespace;
		if (!CLUSTER_SCOPED.has(v.kind)) {
			if (!ns)
				problem(where(doc, "metadata"), "no metadata.namespace: it would land in the current context's namespace");
			else if (!find(docs, "Namespace", ns))
				problem(where(doc, "metadata.namespace"), `no Namespace '${ns}' among these files`);
		}
		if (v.kind === "DaemonSet" || v.kind === "Deployment" || v.kind === "StatefulSet") {
			const sel = v.spec?.selector?.matchLabels || {}, labels = v.spec?.template?.metadata?.labels || {};
			for (const [k, val] of Object.entries(sel))
				if (labels[k] !== val)
					problem(where(doc, "spec.selector.matchLabels"), `the pod template's labels lack ${k}: ${val}`);
			if (v.spec?.template?.spec)
				checkPod(docs, doc, v.spec.template.spec, "spec.template.spec");
		}
		if (v.kind === "ClusterRoleBinding" || v.kind === "RoleBinding") {
			const ref = v.roleRef || {};
			if (!find(docs, ref.kind, ref.name, ref.kind === "Role" ? ns : undefined))
				problem(where(doc, "roleRef.name"), `no ${ref.kind} '${ref.name}' among these files`);
			(v.subjects || []).forEach((s, i) => {
				if (s.kind === "ServiceAccount" && !find(docs, "ServiceAccount", s.name, s.namespace ?? ns))
					problem(where(doc, `subjects[${i}]`), `no ServiceAccount '${s.name}' in namespace '${s.namespace ?? ns}' among these files`);
			});
		}
	}
}

/* --- the policies volume as the kubelet writes it ------------------------ */

function policiesArg(c) {
	const args = [...(c.command || []), ...(c.args || [])];
	for (let i = 0; i < args.length; i++) {
		if (args[i] === "--policies")
			return args[i + 1];
		if (String(args[i]).startsWith("--policies="))
			return args[i].slice("--policies=".length);
	}
	return "/etc/guardian/policies.d"; /* guardian's default */
}

function projectPolicies(docs, dir) {
	const ds = docs.find((d) => d.value.kind === "DaemonSet");
	if (!ds)
		throw new Error("no DaemonSet among these files");
	const spec = ds.value.spec.template.spec, c = spec.containers[0];
	const arg = policiesArg(c);
	const mount = (c.volumeMounts || []).find((m) => arg === m.mountPath || arg.startsWith(m.mountPath.replace(/\/$/, "") + "/"));
	if (!mount)
		throw new Error(`--policies ${arg} is on no volume of the DaemonSet's container`);
	const vol = (spec.volumes || []).find((v) => v.name === mount.name);
	if (!vol?.configMap)
		throw new Error(`--policies ${arg} is on volume '${mount.name}', which is no ConfigMap`);
	const cm = find(docs, "ConfigMap", vol.configMap.name, ds.value.metadata.namespace);
	if (!cm)
		throw new Error(`no ConfigMap '${vol.configMap.name}' among these files`);
	const mode = vol.configMap.defaultMode ?? 0o644; /* the API's default */
	const data = cm.value.data || {};
	const items = vol.configMap.items || Object.keys(data).map((key) => ({ key, path: key }));
	// pkg/volume/util/atomic_writer.go: the volume's directory comes from
	// the emptyDir it wraps (0777); the files live in a timestamped 0755
	// directory that ..data links to, and each top-level name is a link
	// into ..data.
	fs.mkdirSync(dir, { recursive: true });
	fs.chmodSync(dir, 0o777);
	const ts = "..2026_01_01_00_00_00.000000001";
	fs.mkdirSync(path.join(dir, ts));
	fs.chmodSync(path.join(dir, ts), 0o755);
	const top = new Set();
	for (const it of items) {
		const file = path.join(dir, ts, it.path);
		fs.mkdirSync(path.dirname(file), { recursive: true });
		fs.writeFileSync(file, data[it.key] ?? "");
		fs.chmodSync(file, it.mode ?? mode);
		top.add(it.path.split("/")[0]);
	}
	fs.symlinkSync(ts, path.join(dir, "..data"));
	for (const name of top)
		fs.symlinkSync(path.join("..data", name), path.join(dir, name));
	console.log(path.join(dir, path.relative(mount.mountPath, arg)));
}

/* --- main ------------------------------------------------------------------ */

if (cmd === "validate") {
	if (!rest.length) {
		console.error("check.mjs validate: no files");
		process.exit(2);
	}
	const docs = load(rest);
	const models = docs.map(modelOf);
	docs.forEach((doc, i) => models[i] && checkSchemas(doc, models[i]));
	checkKeys(docs, models);
	checkReferences(docs.filter((d, i) => models[i]));
	console.log(`${problems ? "FAIL" : "ok"}: ${docs.length} documents in ${rest.length} files, ${problems} problems`);
	process.exit(problems ? 1 : 0);
} else {
	const [dir, ...files] = rest;
	const docs = load(files);
	if (problems)
		process.exit(1);
	try {
		projectPolicies(docs, dir);
	} catch (e) {
		console.error(`check.mjs project-policies: ${e.message}`);
		process.exit(1);
	}
}
