%% An outside module: starts pyctx as a dependency and evaluates Python.
-module(outside).
-export([main/0]).

main() ->
    {ok, _} = application:ensure_all_started(outside),
    {ok, Ctx} = pyctx:start_context(),
    {ok, 42} = pyctx:eval(Ctx, <<"x * y">>, #{x => 6, y => 7}),
    {ok, <<"HI">>} = pyctx:call(Ctx, builtins, 'str.upper', [<<"hi">>]),
    io:format("erlang outside project: ok~n"),
    halt(0).
