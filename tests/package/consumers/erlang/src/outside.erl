%% An outside module: starts pyctx as a dependency and evaluates Python, in
%% a process context too (its helper found from the installed library).
-module(outside).
-export([main/0]).

main() ->
    {ok, _} = application:ensure_all_started(outside),
    {ok, Ctx} = pyctx:start_context(),
    {ok, 42} = pyctx:eval(Ctx, <<"x * y">>, #{x => 6, y => 7}),
    {ok, <<"HI">>} = pyctx:call(Ctx, builtins, 'str.upper', [<<"hi">>]),
    {ok, Child} = pyctx:start_context(#{mode => process}),
    {ok, 42} = pyctx:eval(Child, <<"6 * 7">>),
    io:format("erlang outside project: ok~n"),
    halt(0).
