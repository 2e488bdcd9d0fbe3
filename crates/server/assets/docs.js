// API reference page: reads /openapi.json and renders every path with its
// parameters and a "try it" form. Builds DOM nodes with textContent only (no HTML
// parsing of data), so nothing from the document or a response can run as script.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function resolve(doc, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return (doc.components && doc.components.schemas && doc.components.schemas[name]) || schema;
  }
  return schema || {};
}

function typeOf(doc, schema) {
  const s = resolve(doc, schema);
  if (s.enum) return s.enum.join(" | ");
  if (s.oneOf) return s.oneOf.map((x) => typeOf(doc, x)).filter((t) => t !== "null").join(" | ");
  if (Array.isArray(s.type)) return s.type.filter((t) => t !== "null").join(" | ");
  return s.type || "";
}

// A sample value for a schema: its example, else its first enum value, else a
// skeleton of its properties (required ones only when it has some).
function exampleOf(doc, schema, depth) {
  const s = resolve(doc, schema);
  if (s.example !== undefined) return s.example;
  if (s.examples && s.examples.length) return s.examples[0];
  if (s.enum) return s.enum[0];
  if (s.default !== undefined) return s.default;
  if (depth > 4) return null;
  if (s.oneOf || s.anyOf) return exampleOf(doc, (s.oneOf || s.anyOf)[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  if (type === "object" || s.properties) {
    const out = {};
    const required = s.required || [];
    for (const [name, prop] of Object.entries(s.properties || {})) {
      if (required.length && !required.includes(name)) continue;
      out[name] = exampleOf(doc, prop, depth + 1);
    }
    return out;
  }
  if (type === "array") return [exampleOf(doc, s.items, depth + 1)];
  if (type === "integer" || type === "number") return s.minimum ?? 0;
  if (type === "boolean") return false;
  return "";
}

function operation(doc, path, method, op) {
  const id = (method + path).replace(/[^A-Za-z0-9]+/g, "-");
  const box = el("section", { class: "op", id });
  box.append(el("h3", {}, el("span", { class: "method", text: method.toUpperCase() }), el("code", { text: path })));
  if (op.summary) box.append(el("p", { text: op.summary }));
  if (op.description) box.append(el("p", { class: "muted", text: op.description }));
  const params = op.parameters || [];
  const form = el("form");
  const locked = (op.security || doc.security || []).some((req) => Object.keys(req).length > 0);
  if (locked) box.querySelector("h3").append(el("span", { title: "needs credentials", text: " 🔒" }));
  if (params.length) {
    const table = el("table", {}, el("tr", {}, el("th", { text: "parameter" }), el("th", { text: "type" }),
      el("th", { text: "description" }), el("th", { text: "value" })));
    for (const p of params) {
      const input = el("input", { name: p.name, "data-in": p.in, placeholder: String(p.example ?? "") });
      table.append(el("tr", {}, el("td", {}, el("code", { text: p.name + (p.required ? " *" : "") })),
        el("td", { text: typeOf(doc, p.schema) }), el("td", { text: p.description || "" }), el("td", {}, input)));
    }
    form.append(table);
  }
  let bodyInput = null;
  if (op.requestBody) {
    const media = (op.requestBody.content || {})["application/json"] || {};
    const example = media.example ?? exampleOf(doc, media.schema, 0);
    const label = el("label", { for: id + "-body", text: "Request body (JSON)" });
    bodyInput = el("textarea", { id: id + "-body", rows: "6", cols: "60", spellcheck: "false" });
    bodyInput.value = JSON.stringify(example, null, 2);
    form.append(label, bodyInput);
  }
  const out = el("pre", { hidden: "" });
  form.append(el("button", { type: "submit", text: "Try it" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const input of form.querySelectorAll("input")) {
      if (!input.value) continue;
      if (input.dataset.in === "path") url = url.replace("{" + input.name + "}", encodeURIComponent(input.value));
      else query.append(input.name, input.value);
    }
    const qs = query.toString();
    if (qs) url += "?" + qs;
    const verb = method.toUpperCase();
    const init = { method: verb, headers: { Accept: "application/json" }, credentials: "same-origin" };
    const credential = document.getElementById("credential").value.trim();
    if (credential) {
      if (document.getElementById("credential-kind").value === "bearer") init.headers.Authorization = "Bearer " + credential;
      else init.headers["X-API-Key"] = credential;
    }
    if (bodyInput) {
      init.headers["Content-Type"] = "application/json";
      init.body = bodyInput.value;
    }
    out.hidden = false;
    out.textContent = verb + " " + url + " …";
    try {
      const res = await fetch(url, init);
      let body = await res.text();
      const type = res.headers.get("content-type") || "";
      if (type.includes("json")) {
        try { body = JSON.stringify(JSON.parse(body), null, 2); } catch (_) { /* keep the text */ }
      }
      if (body.length > 200000) body = body.slice(0, 200000) + "\n… (truncated)";
      out.textContent = verb + " " + url + "\n" + res.status + " " + type + "\n\n" + body;
    } catch (err) {
      out.textContent = verb + " " + url + " failed: " + err;
    }
  });
  box.append(form, out);
  return [id, box];
}

async function main() {
  const summary = document.getElementById("summary");
  let doc;
  try {
    doc = await (await fetch("/openapi.json")).json();
  } catch (err) {
    summary.textContent = "Could not load /openapi.json: " + err;
    return;
  }
  summary.textContent = (doc.info.description || "") + " (OpenAPI " + doc.openapi + ", version " + doc.info.version + ")";
  const toc = el("ul");
  const main = document.getElementById("paths");
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  for (const [tag, ops] of byTag) {
    main.append(el("h2", { text: tag }));
    for (const [path, method, op] of ops) {
      const [id, box] = operation(doc, path, method, op);
      main.append(box);
      toc.append(el("li", {}, el("a", { href: "#" + id, text: method.toUpperCase() + " " + path })));
    }
  }
  document.getElementById("toc").append(toc);
}

main();
