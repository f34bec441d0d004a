/**
 * in-toto Statement v1 documents about a pushed image, and the SLSA provenance v1 predicate.
 * Statements are built from explicit inputs only (no clock, no environment), so the same build
 * gives the same bytes; `statementBytes` is their canonical JSON, the exact DSSE payload.
 */
import { CconvError } from '../errors.ts';
import { splitDigest } from '../image/digest.ts';
import type { Digest } from '../image/types.ts';
import { canonicalJson } from './canonical.ts';

/** `_type` of an in-toto Statement v1. */
export const INTOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** DSSE payload type of an in-toto statement. */
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Predicate type of SLSA provenance v1. */
export const SLSA_PROVENANCE_TYPE = 'https://slsa.dev/provenance/v1';
/** `buildDefinition.buildType` of a cconv build (stable URI; the external parameters below are its schema). */
export const CCONV_BUILD_TYPE = 'https://cconv.dev/buildtypes/gramine-sgx/v1';
/** Default `runDetails.builder.id`. */
export const DEFAULT_BUILDER_ID = 'https://cconv.dev/builder/cconv-cli';

/** A statement subject: the image repository and its manifest digest. */
export interface StatementSubject {
  name: string;
  digest: Record<string, string>;
}

/** An in-toto Statement v1 with one predicate. */
export interface Statement<P = unknown> {
  _type: typeof INTOTO_STATEMENT_TYPE;
  subject: StatementSubject[];
  predicateType: string;
  predicate: P;
}

/** The subject for image `name` (`registry/repository`) with manifest digest `digest`. */
export function imageSubject(name: string, digest: Digest): StatementSubject {
  const { algorithm, hex } = splitDigest(digest);
  return { name, digest: { [algorithm]: hex } };
}

/** A statement about one image. */
export function buildStatement<P>(subject: StatementSubject, predicateType: string, predicate: P): Statement<P> {
  return { _type: INTOTO_STATEMENT_TYPE, subject: [subject], predicateType, predicate };
}

/** The exact DSSE payload of a statement: its canonical JSON as UTF-8. */
export function statementBytes(statement: Statement): Buffer {
  return Buffer.from(canonicalJson(statement), 'utf8');
}

/** An image the build read, by reference text and resolved manifest digest. */
export interface ImageInput {
  /** The reference as the user gave it (`docker://...`, `oci:DIR:TAG`, ...). */
  reference: string;
  digest: Digest;
}

/** What `provenancePredicate` records. Times are explicit so output stays deterministic. */
export interface ProvenanceInput {
  source: ImageInput;
  runtime?: ImageInput;
  /** Build options that change the output (policy, settings, encryption...), JSON values only. */
  parameters?: Record<string, unknown>;
  builderId?: string;
  /** Versions of the builder's components, e.g. `{ cconv: '0.1.0' }`. */
  builderVersion?: Record<string, string>;
  invocationId?: string;
  /** Build start and end; when absent and `sourceDateEpoch` is set, both are that instant; else omitted. */
  startedOn?: Date;
  finishedOn?: Date;
  /** SOURCE_DATE_EPOCH in seconds. */
  sourceDateEpoch?: number;
}

/** A SLSA v1 ResourceDescriptor. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
}

/** The SLSA provenance v1 predicate (only the fields cconv fills). */
export interface ProvenancePredicate {
  buildDefinition: {
    buildType: string;
    externalParameters: { source: string; runtime?: string; options: Record<string, unknown> };
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version?: Record<string, string> };
    metadata: { invocationId?: string; startedOn?: string; finishedOn?: string };
  };
}

function dependency(name: string, input: ImageInput): ResourceDescriptor {
  const { algorithm, hex } = splitDigest(input.digest);
  return { name, uri: input.reference, digest: { [algorithm]: hex } };
}

function isoSeconds(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new CconvError('E_USAGE', 'provenance time is not a valid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The SLSA provenance predicate of a cconv build. */
export function provenancePredicate(input: ProvenanceInput): ProvenancePredicate {
  const epoch = input.sourceDateEpoch === undefined ? undefined : new Date(input.sourceDateEpoch * 1000);
  const started = input.startedOn ?? epoch;
  const finished = input.finishedOn ?? epoch;
  const metadata: ProvenancePredicate['runDetails']['metadata'] = {};
  if (input.invocationId !== undefined) metadata.invocationId = input.invocationId;
  if (started !== undefined) metadata.startedOn = isoSeconds(started);
  if (finished !== undefined) metadata.finishedOn = isoSeconds(finished);
  const builder: ProvenancePredicate['runDetails']['builder'] = { id: input.builderId ?? DEFAULT_BUILDER_ID };
  if (input.builderVersion !== undefined) builder.version = input.builderVersion;
  const externalParameters: ProvenancePredicate['buildDefinition']['externalParameters'] = { source: input.source.reference, options: input.parameters ?? {} };
  const resolvedDependencies = [dependency('source', input.source)];
  if (input.runtime !== undefined) {
    externalParameters.runtime = input.runtime.reference;
    resolvedDependencies.push(dependency('runtime', input.runtime));
  }
  return { buildDefinition: { buildType: CCONV_BUILD_TYPE, externalParameters, resolvedDependencies }, runDetails: { builder, metadata } };
}
