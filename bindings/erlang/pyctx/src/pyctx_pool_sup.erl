%% @private
%% Supervises the pools started with pyctx:start_pool/2. A pool whose
%% process crashes is started again with the same options (transient: a
%% pool stopped with pyctx:stop_pool/1,2 stays stopped).
-module(pyctx_pool_sup).
-behaviour(supervisor).

-export([start_link/0, init/1]).

start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    Child = #{id => pyctx_pool, start => {pyctx_pool, start_link, []}, restart => transient,
              shutdown => 10000},
    {ok, {#{strategy => simple_one_for_one, intensity => 5, period => 10}, [Child]}}.
