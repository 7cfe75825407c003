%% Object handles: results as handles, calls, method calls and attribute
%% reads on them, handles nested in arguments, release (explicit and by
%% garbage collection) and the errors after release, on another context and
%% after close, in both modes.
-module(pyctx_objects_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/1, wait_until/2, pyctx_messages/0]).

objects_test_() ->
    [{"objects in " ++ atom_to_list(Mode) ++ " mode",
      {foreach,
       fun() -> Ctx = start(Mode), ok = pyctx:exec(Ctx, setup_code()), {Mode, Ctx} end,
       fun({_, Ctx}) -> pyctx:stop_context(Ctx) end,
       [fun(Arg) -> {Name, fun() -> Test(Arg) end} end || {Name, Test} <- cases()]}}
     || Mode <- modes()].

cases() ->
    [{"a stateful object's methods return changing values", fun stateful/1},
     {"eval and getattr return handles; handles chain", fun forms/1},
     {"handles nested in arguments reach Python as the objects", fun nested/1},
     {"a released handle gives errors, never a crash", fun released/1},
     {"a handle on another context is refused", fun other_context/1},
     {"a handle after its context closed", fun after_close/1},
     {"garbage collection releases the Python object", fun gc_release/1},
     {"async object requests answer by message", fun async/1},
     {"python errors and unknown options", fun errors/1}].

setup_code() ->
    <<"deleted = 0\n"
      "class Counter:\n"
      "    def __init__(self, start=0):\n"
      "        self.n = start\n"
      "    def incr(self, by=1):\n"
      "        self.n += by\n"
      "        return self.n\n"
      "    def __call__(self, x):\n"
      "        return x * 10 + self.n\n"
      "    def fail(self):\n"
      "        raise KeyError('no such thing')\n"
      "    def __del__(self):\n"
      "        global deleted\n"
      "        deleted += 1\n">>.

counter(Ctx, Start) ->
    {ok, C} = pyctx:call(Ctx, '__main__', 'Counter', [Start], #{result => object}),
    C.

stateful({_, Ctx}) ->
    C = counter(Ctx, 5),
    ?assert(is_reference(C)),
    ?assertEqual({ok, 6}, pyctx:method_call(C, incr, [])),
    ?assertEqual({ok, 7}, pyctx:method_call(C, <<"incr">>, [])),
    ?assertEqual({ok, 17}, pyctx:method_call(C, incr, [], #{kwargs => #{by => 10}})),
    ?assertEqual({ok, 17}, pyctx:getattr(C, n)),
    ?assertEqual({ok, 37}, pyctx:object_call(C, [2])),
    ?assertEqual({ok, 37}, pyctx:object_call(C, [], #{kwargs => [{x, 2}], timeout => 1000})),
    #{id := Id, alive := true, context := Name} = pyctx:object_info(C),
    ?assert(Id > 0),
    ?assertEqual(maps:get(name, pyctx:context_info(Ctx)), Name),
    ?assertEqual(1, maps:get(live_objects, pyctx:context_info(Ctx))).

forms({_, Ctx}) ->
    {ok, L} = pyctx:eval(Ctx, <<"[1, 2]">>, #{}, #{result => object}),
    ?assertEqual({ok, none}, pyctx:method_call(L, append, [3])),
    ?assertEqual({ok, [1, 2, 3]}, pyctx:eval(Ctx, <<"list(x)">>, #{x => L})),
    ?assertMatch({error, {python, <<"TypeError">>, _, _}}, pyctx:object_call(L, [])),
    C = counter(Ctx, 0),
    %% a bound method as a handle, then called: the counter's state moves
    {ok, Incr} = pyctx:getattr(C, incr, #{result => object}),
    ?assertEqual({ok, 1}, pyctx:object_call(Incr, [])),
    ?assertEqual({ok, 3}, pyctx:object_call(Incr, [2])),
    ?assertEqual({ok, 3}, pyctx:getattr(C, n)),
    %% an object request returning a handle again
    {ok, Class} = pyctx:getattr(C, '__class__', #{result => object}),
    {ok, C2} = pyctx:object_call(Class, [100], #{result => object}),
    ?assertEqual({ok, 101}, pyctx:method_call(C2, incr, [])),
    ?assertEqual({ok, 3}, pyctx:getattr(C, n)),
    %% eval on an env with a handle result
    {ok, Env} = pyctx:new_env(Ctx),
    ok = pyctx:exec(Env, <<"d = {'k': 1}">>),
    {ok, D} = pyctx:eval(Env, <<"d">>, #{}, #{result => object}),
    ?assertEqual({ok, none}, pyctx:method_call(D, '__setitem__', [<<"j">>, 2])),
    ?assertEqual({ok, #{<<"k">> => 1, <<"j">> => 2}}, pyctx:eval(Env, <<"d">>)).

nested({_, Ctx}) ->
    C1 = counter(Ctx, 1),
    C2 = counter(Ctx, 20),
    %% in a map in a list, in eval locals
    ?assertEqual({ok, 21},
                 pyctx:eval(Ctx, <<"sum(o.n for o in xs['items'])">>,
                            #{xs => #{items => [C1, C2]}})),
    %% identity: the same Python object, not a copy
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"a is b">>, #{a => C1, b => C1})),
    ?assertEqual({ok, false}, pyctx:eval(Ctx, <<"a is b">>, #{a => C1, b => C2})),
    %% as a call argument, in a tuple, and in kwargs; mutation is visible
    ok = pyctx:exec(Ctx, <<"def bump_all(pair, extra=None):\n"
                           "    for o in pair:\n"
                           "        o.incr(5)\n"
                           "    if extra is not None:\n"
                           "        extra.incr(100)\n"
                           "    return [o.n for o in pair]\n">>),
    ?assertEqual({ok, [6, 25]}, pyctx:call(Ctx, '__main__', bump_all, [{C1, C2}])),
    ?assertEqual({ok, [111, 30]},
                 pyctx:call(Ctx, '__main__', bump_all, [[C1, C2]], #{kwargs => #{extra => C1}})),
    ?assertEqual({ok, 111}, pyctx:getattr(C1, n)),
    %% as an argument of a method call on another handle
    {ok, L} = pyctx:eval(Ctx, <<"[]">>, #{}, #{result => object}),
    ?assertEqual({ok, none}, pyctx:method_call(L, append, [C2])),
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"l[0] is c">>, #{l => L, c => C2})).

released({_, Ctx}) ->
    C = counter(Ctx, 0),
    ?assertEqual({ok, 1}, pyctx:method_call(C, incr, [])),
    ?assertEqual(ok, pyctx:release(C)),
    ?assertMatch(#{alive := false}, pyctx:object_info(C)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:method_call(C, incr, [])),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:object_call(C, [1])),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:getattr(C, n)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:release(C)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:method_call_async(C, incr, [])),
    %% as an argument: refused too
    {error, {Status, _}} = pyctx:eval(Ctx, <<"x">>, #{x => C}),
    ?assert(lists:member(Status, [decode, invalid_argument])),
    %% the Python object went with the release (its __del__ ran)
    ?assertEqual({ok, 1}, pyctx:eval(Ctx, <<"deleted">>)),
    ?assertEqual(0, maps:get(live_objects, pyctx:context_info(Ctx))),
    ?assertEqual([], pyctx_messages()).

other_context({Mode, Ctx}) ->
    C = counter(Ctx, 3),
    Other = start(Mode),
    try
        {error, {decode, Msg}} = pyctx:eval(Other, <<"x">>, #{x => C}),
        ?assert(is_binary(Msg)),
        ?assertMatch({error, {decode, _}}, pyctx:call(Other, builtins, id, [[C]])),
        %% still fine where it lives
        ?assertEqual({ok, 4}, pyctx:method_call(C, incr, []))
    after
        pyctx:stop_context(Other)
    end.

after_close({Mode, _}) ->
    Ctx = start(Mode),
    ok = pyctx:exec(Ctx, setup_code()),
    C = counter(Ctx, 0),
    ok = pyctx:stop_context(Ctx),
    ?assertEqual({error, closed}, pyctx:method_call(C, incr, [])),
    ?assertEqual({error, closed}, pyctx:getattr(C, n)),
    ?assertMatch({error, _}, pyctx:release(C)),
    ?assertMatch(#{alive := false}, pyctx:object_info(C)).

gc_release({_, Ctx}) ->
    Self = self(),
    {Pid, Mon} = spawn_monitor(fun() ->
                                       C = counter(Ctx, 0),
                                       {ok, 1} = pyctx:method_call(C, incr, []),
                                       Self ! {made, pyctx:object_info(C)}
                                   end),
    receive {made, #{alive := true}} -> ok end,
    receive {'DOWN', Mon, process, Pid, normal} -> ok end,
    %% the handle's last term died with the process: the resource
    %% destructor released the object, on the context thread
    wait_until(fun() -> pyctx:eval(Ctx, <<"deleted">>) =:= {ok, 1} end, 5000),
    ?assertEqual(0, maps:get(live_objects, pyctx:context_info(Ctx))),
    %% many handles dropped at once
    [spawn_monitor(fun() -> counter(Ctx, N) end) || N <- lists:seq(1, 20)],
    [receive {'DOWN', _, process, _, normal} -> ok end || _ <- lists:seq(1, 20)],
    wait_until(fun() -> pyctx:eval(Ctx, <<"deleted">>) =:= {ok, 21} end, 5000).

async({_, Ctx}) ->
    {ok, R0} = pyctx:call_async(Ctx, '__main__', 'Counter', [10], #{result => object}),
    {ok, C} = pyctx:await(R0),
    {ok, R1} = pyctx:method_call_async(C, incr, []),
    {ok, R2} = pyctx:method_call_async(C, incr, [], #{kwargs => #{by => 5}}),
    {ok, R3} = pyctx:getattr_async(C, n),
    {ok, R4} = pyctx:object_call_async(C, [1]),
    %% requests on one context run in submission order
    ?assertEqual({ok, 11}, pyctx:await(R1)),
    ?assertEqual({ok, 16}, pyctx:await(R2)),
    ?assertEqual({ok, 16}, pyctx:await(R3)),
    ?assertEqual({ok, 26}, pyctx:await(R4)),
    {ok, R5} = pyctx:eval_async(Ctx, <<"c">>, #{c => C}, #{result => object}),
    {ok, Same} = pyctx:await(R5),
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"a is b">>, #{a => C, b => Same})),
    {ok, R6} = pyctx:release_async(C),
    receive {pyctx, R6, Reply} -> ?assertEqual(ok, Reply) end,
    ?assertMatch({error, {invalid_argument, _}}, pyctx:getattr(C, n)),
    ?assertEqual({ok, 16}, pyctx:getattr(Same, n)),
    ?assertEqual([], pyctx_messages()).

errors({_, Ctx}) ->
    C = counter(Ctx, 0),
    ?assertMatch({error, {python, <<"KeyError">>, <<"'no such thing'">>, _}},
                 pyctx:method_call(C, fail, [])),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, pyctx:getattr(C, nope)),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, pyctx:method_call(C, nope, [])),
    ?assertError({bad_option, {result, nope}}, pyctx:method_call(C, incr, [], #{result => nope})),
    ?assertError({bad_option, kwargs}, pyctx:getattr(C, n, #{kwargs => #{}})),
    ?assertError(badarg, pyctx:method_call(Ctx, incr, [])),
    ?assertEqual({ok, 1}, pyctx:method_call(C, incr, [])).
