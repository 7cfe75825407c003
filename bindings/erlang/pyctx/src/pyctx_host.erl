%% @private
%% Dispatches Python -> Erlang host calls.
%%
%% The NIF registers each function name with this process as dispatcher and
%% sends it `{pyctx_host_call, Call, Name, Args}' from the library thread.
%% Each call runs in a new monitored process that answers with
%% pyctx_nif:host_reply/2; should that process die first, the call is
%% answered with an error here, so Python never waits forever.
-module(pyctx_host).
-behaviour(gen_server).

-export([start_link/0, register/2, unregister/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
-export([whereis_name/1]).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

-spec register(pyctx:name(), fun() | {module(), atom()}) -> ok | {error, term()}.
register(Name, Fun) when is_function(Fun); is_atom(element(1, Fun)) andalso is_atom(element(2, Fun)) ->
    request({register, name(Name), Fun}).

-spec unregister(pyctx:name()) -> ok | {error, term()}.
unregister(Name) ->
    request({unregister, name(Name)}).

request(Request) ->
    try gen_server:call(?MODULE, Request)
    catch exit:{noproc, _} -> {error, not_running}
    end.

name(Name) when is_atom(Name) -> atom_to_binary(Name, utf8);
name(Name) -> unicode:characters_to_binary(Name).

%% Host functions every context can call while the application runs.
builtins() ->
    #{<<"erlang.whereis">> => {?MODULE, whereis_name}}.

%% State: registered functions by name, and the calls being run by monitor.
init([]) ->
    process_flag(trap_exit, true),
    %% A builtin the library refuses (runtime not running) is left out
    %% rather than failing the application.
    Funs = maps:filter(fun(Name, _) -> pyctx_nif:host_register(Name, self()) =:= ok end,
                       builtins()),
    {ok, #{funs => Funs, calls => #{}}}.

handle_call({register, Name, Fun}, _From, #{funs := Funs} = State) ->
    case pyctx_nif:host_register(Name, self()) of
        ok -> {reply, ok, State#{funs := Funs#{Name => Fun}}};
        Error -> {reply, Error, State}
    end;
handle_call({unregister, Name}, _From, #{funs := Funs} = State) ->
    Reply = pyctx_nif:host_unregister(Name),
    {reply, Reply, State#{funs := maps:remove(Name, Funs)}};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_request}, State}.

handle_cast(_Msg, State) ->
    {noreply, State}.

handle_info({pyctx_host_call, Call, Name, Args}, #{funs := Funs, calls := Calls} = State) ->
    case Funs of
        #{Name := Fun} ->
            {_Pid, MRef} = spawn_monitor(fun() -> run(Call, Fun, Args) end),
            {noreply, State#{calls := Calls#{MRef => Call}}};
        #{} ->
            _ = pyctx_nif:host_reply(Call, {error, <<"no Erlang function is registered as ",
                                                     Name/binary>>}),
            {noreply, State}
    end;
handle_info({'DOWN', MRef, process, _Pid, Reason}, #{calls := Calls} = State) ->
    case maps:take(MRef, Calls) of
        {Call, Rest} ->
            %% answered already unless the process died abnormally;
            %% a second answer is refused harmlessly
            Reason =:= normal orelse
                pyctx_nif:host_reply(Call, {error, message("Erlang host function process exited: ~0tP",
                                                           [Reason, 20])}),
            {noreply, State#{calls := Rest}};
        error ->
            {noreply, State}
    end;
handle_info(_Info, State) ->
    {noreply, State}.

%% Python calls made after this see LookupError rather than waiting.
terminate(_Reason, #{funs := Funs}) ->
    lists:foreach(fun pyctx_nif:host_unregister/1, maps:keys(Funs)).

run(Call, Fun, Args) ->
    Reply = try
                {ok, invoke(Fun, Args)}
            catch
                Class:Reason ->
                    {error, message("~p: ~0tP", [Class, Reason, 20])}
            end,
    case pyctx_nif:host_reply(Call, Reply) of
        ok -> ok;
        {error, {encode, Why}} ->
            %% the NIF has answered Python with the encode error already
            {error, {encode, Why}};
        {error, _ContextClosedOrAnswered} -> ok
    end.

%% `pyctx.call('erlang.whereis', name)': the pid (or port) registered as
%% `name' (a str or a pyctx.Symbol) as a pyctx.HostTerm, or None. A name
%% that is no existing atom cannot be registered: None, and no atom is made.
whereis_name(Name) when is_atom(Name) ->
    case erlang:whereis(Name) of
        undefined -> none;
        PidOrPort -> PidOrPort
    end;
whereis_name(Name) when is_binary(Name) ->
    try binary_to_existing_atom(Name, utf8) of
        Atom -> whereis_name(Atom)
    catch
        error:badarg -> none
    end;
whereis_name({symbol, Name}) when is_binary(Name) ->
    none;
whereis_name(Other) ->
    error({badarg, {name_expected, Other}}).

invoke({Module, Function}, Args) -> apply(Module, Function, Args);
invoke(Fun, Args) -> apply(Fun, Args).

%% A message for pyctx.HostError (text without NUL bytes).
message(Format, Args) ->
    Text = unicode:characters_to_binary(io_lib:format(Format, Args)),
    binary:replace(Text, <<0>>, <<>>, [global]).
