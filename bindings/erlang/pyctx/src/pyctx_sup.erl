%% @private
%% Supervises the host-function dispatcher and the default context pool.
-module(pyctx_sup).
-behaviour(supervisor).

-export([start_link/0, init/1]).

start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    Children = [#{id => pyctx_host, start => {pyctx_host, start_link, []}},
                #{id => pyctx_pool, start => {pyctx_pool, start_link, []}}],
    {ok, {#{strategy => one_for_one, intensity => 5, period => 10}, Children}}.
