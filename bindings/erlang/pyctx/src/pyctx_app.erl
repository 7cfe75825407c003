%% @private
%% Starts the Python runtime (once per VM) and the supervision tree.
-module(pyctx_app).
-behaviour(application).

-export([start/2, stop/1]).

start(_Type, _Args) ->
    case pyctx:ensure_runtime() of
        ok -> pyctx_sup:start_link();
        {error, Reason} -> {error, {python_runtime, Reason}}
    end.

%% The runtime is not shut down: Python cannot be started twice in one OS
%% process, and stopping the application must not prevent restarting it.
stop(_State) ->
    ok.
