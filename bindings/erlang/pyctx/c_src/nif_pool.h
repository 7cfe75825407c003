/* NIFs for pools (pyctx_pool_t): N contexts behind one submit path, built
 * once in the library (routing least queued preferring awake members,
 * round robin or by key; resize; replacement; stats). A pool request is
 * answered exactly like a context request:
 *     {pyctx, Ref, {ok, Value} | ok | {error, Reason}}
 * and `Ref` works with abandon/1, cancel/1 and request_state/1 (cancel goes
 * through pyctx_pool_cancel: request ids are unique per pool). */
#ifndef PYCTX_ERL_NIF_POOL_H
#define PYCTX_ERL_NIF_POOL_H

#include <erl_nif.h>

/* pool_start(MemberOpts, PoolOpts) -- dirty IO: every member is created
 * (and preloaded) before it returns.
 *   MemberOpts = {Mode, Name, Preload, QueueCapacity, SandboxFlags,
 *                 AllowPaths, MemoryLimit, ProcessOptions}
 *                (context_start/9's arguments without the owner)
 *   PoolOpts   = {Size, PoolName | undefined, Routing, QueueBound,
 *                 Replace, KeyMemory}
 *   Routing    = least_queued | round_robin | by_key
 *   Replace    = replace | leave
 * -> {ok, Pool} | {error, Reason} */
ERL_NIF_TERM nif_pool_start(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_close(Pool, TimeoutMs) -- dirty IO: waits for the members. */
ERL_NIF_TERM nif_pool_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_resize(Pool, Size, TimeoutMs) -- dirty IO: growing creates members,
 * shrinking waits for the leaving members to finish their queues. */
ERL_NIF_TERM nif_pool_resize(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_info(Pool) -> map of pyctx_pool_stats_t plus name and closed. */
ERL_NIF_TERM nif_pool_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_members(Pool) -> [map of pyctx_pool_member_stats_t], slot order. */
ERL_NIF_TERM nif_pool_members(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_load(Pool) -> {Size, QueuedNow}: the cheap figure distribution
 * routing reads per call. */
ERL_NIF_TERM nif_pool_load(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_member(Pool, Index) -> {ok, Ctx} | {error, {not_found, _}}: a
 * context handle of member Index; dropping it does not close the member. */
ERL_NIF_TERM nif_pool_member(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_env_new(Pool) -- dirty IO: an env on the least loaded member (it
 * belongs to that member, as its context's envs do). -> {ok, Env} */
ERL_NIF_TERM nif_pool_env_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_call(Pool, Module, Function, Args, Kwargs, TimeoutMs, Owner): the
 * one-call path (pyctx_pool_call_async), routed without key. */
ERL_NIF_TERM nif_pool_call(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* pool_request(Kind, Pool, A1, A2, Args, Kwargs, Key, Form, TimeoutMs,
 * Owner, RouteInfo): a request object sent to the pool. Kind call (A1
 * module, A2 function), eval (A1 the expression, Kwargs the locals) or exec
 * (A1 the code); Key undefined or a binary (routing by key); Form value |
 * object | buffer (an object belongs to the member that made it);
 * RouteInfo true: an ok reply is {ok, V, #{member, key_moved}}. */
ERL_NIF_TERM nif_pool_request(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
