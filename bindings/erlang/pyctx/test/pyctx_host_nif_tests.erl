%% The host-call safety nets of the NIF itself, with the test process as
%% dispatcher: Python never waits forever for an answer.
-module(pyctx_host_nif_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [start/1]).

-define(CATCH_CODE, <<"import pyctx\n"
                      "def try_call(name, *args):\n"
                      "    try:\n"
                      "        return ('ok', pyctx.call(name, *args))\n"
                      "    except pyctx.HostError as e:\n"
                      "        return ('HostError', str(e))\n">>).

host_nif_test_() ->
    {setup,
     fun() -> Ctx = start(worker), ok = pyctx:exec(Ctx, ?CATCH_CODE), Ctx end,
     fun pyctx:stop_context/1,
     fun(Ctx) ->
             [{"an unanswered call fails once collected", fun() -> dropped(Ctx) end},
              {"a call answers only once", fun() -> answered_twice(Ctx) end},
              {"a dead dispatcher fails the call", fun() -> dead_dispatcher(Ctx) end}]
     end}.

name() ->
    <<"nif_host_", (integer_to_binary(erlang:unique_integer([positive])))/binary>>.

dropped(Ctx) ->
    Name = name(),
    ok = pyctx_nif:host_register(Name, self()),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', try_call, [Name, 1]),
    receive {pyctx_host_call, _Call, Name, [1]} -> ok end,
    %% the only reference to the call was in that message: collect it
    true = erlang:garbage_collect(),
    {ok, {<<"HostError">>, Message}} = pyctx:await(Ref, 10000),
    ?assertEqual(<<"the Erlang host function gave no answer">>, Message),
    ok = pyctx_nif:host_unregister(Name).

answered_twice(Ctx) ->
    Name = name(),
    ok = pyctx_nif:host_register(Name, self()),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', try_call, [Name, 20]),
    Call = receive {pyctx_host_call, C, Name, [20]} -> C end,
    ?assertEqual(ok, pyctx_nif:host_reply(Call, {ok, 21})),
    ?assertEqual({error, already_answered}, pyctx_nif:host_reply(Call, {ok, 22})),
    ?assertEqual({error, already_answered}, pyctx_nif:host_reply(Call, {error, <<"late">>})),
    ?assertEqual({ok, {<<"ok">>, 21}}, pyctx:await(Ref, 10000)),
    ?assertError(badarg, pyctx_nif:host_reply(Call, {maybe, 1})),
    ok = pyctx_nif:host_unregister(Name).

dead_dispatcher(Ctx) ->
    Name = name(),
    {Pid, MRef} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', MRef, process, Pid, normal} -> ok end,
    ok = pyctx_nif:host_register(Name, Pid),
    ?assertEqual({ok, {<<"HostError">>, <<"the Erlang host dispatcher is not running">>}},
                 pyctx:call(Ctx, '__main__', try_call, [Name])),
    ok = pyctx_nif:host_unregister(Name).
