%% Sandboxed contexts refuse a blocked operation with PermissionError; a
%% memory limit needs an owngil context.
-module(pyctx_limits_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/2]).

sandbox_test_() ->
    [{"a blocked socket in " ++ atom_to_list(Mode) ++ " mode",
      fun() -> blocked_socket(Mode) end} || Mode <- modes()].

blocked_socket(Mode) ->
    Ctx = start(Mode, #{name => <<"sandboxed">>, sandbox => #{block_sockets => true}}),
    try
        {error, {python, Type, Message, _}} =
            pyctx:exec(Ctx, <<"import socket\nsocket.socket()">>),
        ?assertEqual(<<"PermissionError">>, Type),
        ?assertNotEqual(nomatch, binary:match(Message, <<"socket.__new__">>)),
        ?assertNotEqual(nomatch, binary:match(Message, <<"sockets blocked">>)),
        %% socket pairs (asyncio's self-pipe) stay possible
        ?assertEqual(ok, pyctx:exec(Ctx, <<"import socket\na, b = socket.socketpair()\n"
                                           "a.close(); b.close()">>))
    after
        pyctx:stop_context(Ctx)
    end.

bad_sandbox_options_test() ->
    ?assertError({bad_option, nonsense},
                 pyctx:start_context(#{sandbox => #{nonsense => true}})),
    ?assertError({bad_option, {allow_paths, writable}},
                 pyctx:start_context(#{sandbox => #{allow_paths => [{<<"/tmp">>, writable}]}})).

memory_limit_needs_owngil_test() ->
    ?assertMatch({error, {unsupported, _}},
                 pyctx:start_context(#{mode => worker, memory_limit => 64 bsl 20})).
