%% @private
%% Supervises the host-function dispatcher, the pg scope, the tables and
%% the process that spread pools over nodes (pyctx_dist_tables, pyctx_dist),
%% the supervisor of named pools and the default pool. rest_for_one: pools
%% join pg groups through pyctx_dist, so when it (or the scope) restarts,
%% the pools after it restart and join again.
-module(pyctx_sup).
-behaviour(supervisor).

-export([start_link/0, init/1]).

start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    Children = [#{id => pyctx_host, start => {pyctx_host, start_link, []}},
                #{id => pyctx_pg, start => {pg, start_link, [pyctx_pg]}},
                %% pyctx_dist's tables, kept over a restart of it
                #{id => pyctx_dist_tables, start => {pyctx_dist, start_tables, []},
                  shutdown => brutal_kill},
                #{id => pyctx_dist, start => {pyctx_dist, start_link, []}},
                #{id => pyctx_pool_sup, start => {pyctx_pool_sup, start_link, []},
                  type => supervisor},
                #{id => pyctx_default_pool, start => {pyctx_pool, start_default, []},
                  shutdown => 10000}],
    {ok, {#{strategy => rest_for_one, intensity => 5, period => 10}, Children}}.
