%% The term mapping (README "Term mapping"): every row round-trips through
%% Python, and Python sees the documented type.
-module(pyctx_terms_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/1]).

terms_test_() ->
    [{"mapping in " ++ atom_to_list(Mode) ++ " mode",
      {setup,
       fun() -> Ctx = start(Mode), ok = pyctx:exec(Ctx, <<"import pyctx\ndef ident(x):\n    return x\n">>), Ctx end,
       fun pyctx:stop_context/1,
       fun(Ctx) ->
               [{Name, fun() -> Test(Ctx) end} || {Name, Test} <- cases()]
       end}}
     || Mode <- modes()].

cases() ->
    [{"integers of any size", fun integers/1},
     {"integers made by Python", fun python_integers/1},
     {"floats", fun floats/1},
     {"special floats", fun special_floats/1},
     {"binaries are str", fun binaries/1},
     {"invalid UTF-8 is an encode error", fun invalid_utf8/1},
     {"explicit bytes", fun bytes/1},
     {"booleans and none", fun specials/1},
     {"atoms are symbols", fun atoms/1},
     {"unknown symbols never become atoms", fun unknown_symbols/1},
     {"lists", fun lists/1},
     {"tuples", fun tuples/1},
     {"maps", fun maps/1},
     {"sets", fun sets/1},
     {"pids, refs, ports and funs are host terms", fun host_terms/1},
     {"host terms made up in Python are refused", fun forged_host_terms/1},
     {"unencodable terms", fun unencodable/1},
     {"keyword arguments", fun kwargs/1},
     {"large values go through a dirty scheduler", fun large_values/1}].

%% Python's view of a term: its type name.
py_type(Ctx, Term) ->
    {ok, Name} = pyctx:eval(Ctx, <<"type(x).__name__">>, #{x => Term}),
    Name.

roundtrip(Ctx, Term) ->
    pyctx:call(Ctx, '__main__', ident, [Term]).

assert_roundtrip(Ctx, Term, PyType) ->
    ?assertEqual({ok, Term}, roundtrip(Ctx, Term)),
    ?assertEqual(PyType, py_type(Ctx, Term)).

integers(Ctx) ->
    Values = [0, 1, -1, 23, 24, 255, 256, -256, 65536, (1 bsl 32), (1 bsl 63) - 1, -(1 bsl 63),
              1 bsl 63, (1 bsl 64) - 1, 1 bsl 64, -(1 bsl 63) - 1, -(1 bsl 64), -(1 bsl 64) - 1,
              1 bsl 100, -(1 bsl 100), 7 bsl 2000, -(3 bsl 5000)],
    [assert_roundtrip(Ctx, V, <<"int">>) || V <- Values],
    %% Python computes with the same value it was given
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x == 2**100 + 1">>, #{x => (1 bsl 100) + 1})),
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x == -(2**64) - 1">>, #{x => -(1 bsl 64) - 1})).

python_integers(Ctx) ->
    ?assertEqual({ok, 1 bsl 200}, pyctx:eval(Ctx, <<"2**200">>)),
    ?assertEqual({ok, -(1 bsl 64)}, pyctx:eval(Ctx, <<"-(2**64)">>)),
    ?assertEqual({ok, -(1 bsl 64) - 1}, pyctx:eval(Ctx, <<"-(2**64) - 1">>)),
    ?assertEqual({ok, -(1 bsl 63)}, pyctx:eval(Ctx, <<"-(2**63)">>)),
    ?assertEqual({ok, (1 bsl 64) - 1}, pyctx:eval(Ctx, <<"2**64 - 1">>)),
    {ok, F} = pyctx:eval(Ctx, <<"__import__('math').factorial(300)">>),
    ?assertEqual(lists:foldl(fun erlang:'*'/2, 1, lists:seq(1, 300)), F).

floats(Ctx) ->
    [assert_roundtrip(Ctx, V, <<"float">>) || V <- [0.0, -0.0, 1.5, -2.25, 1.0e300, 5.0e-324, 0.1]],
    ?assertEqual({ok, 0.5}, pyctx:eval(Ctx, <<"1 / 2">>)).

special_floats(Ctx) ->
    ?assertEqual({ok, {float, nan}}, pyctx:eval(Ctx, <<"float('nan')">>)),
    ?assertEqual({ok, {float, infinity}}, pyctx:eval(Ctx, <<"float('inf')">>)),
    ?assertEqual({ok, {float, neg_infinity}}, pyctx:eval(Ctx, <<"-float('inf')">>)),
    [assert_roundtrip(Ctx, {float, V}, <<"float">>) || V <- [nan, infinity, neg_infinity]],
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x != x">>, #{x => {float, nan}})),
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x == -float('inf')">>, #{x => {float, neg_infinity}})).

binaries(Ctx) ->
    [assert_roundtrip(Ctx, V, <<"str">>)
     || V <- [<<>>, <<"hello">>, <<"héllo ☃ 𝄞"/utf8>>, binary:copy(<<"ab">>, 5000)]],
    ?assertEqual({ok, 3}, pyctx:eval(Ctx, <<"len(x)">>, #{x => <<"h☃𝄞"/utf8>>})),
    ?assertEqual({ok, <<"ÉTÉ"/utf8>>}, pyctx:call(Ctx, <<"__main__">>, <<"ident">>,
                                                  [<<"ÉTÉ"/utf8>>])),
    ?assertEqual({ok, <<"ÉTÉ"/utf8>>}, pyctx:eval(Ctx, <<"'été'.upper()"/utf8>>)).

invalid_utf8(Ctx) ->
    ?assertMatch({error, {encode, <<"binary is not valid UTF-8 (byte 2)", _/binary>>}},
                 roundtrip(Ctx, <<"ab", 255, "c">>)),
    ?assertMatch({error, {encode, _}}, roundtrip(Ctx, [<<"ok">>, <<16#C3>>])),
    %% latin-1 text written as a plain string literal is not UTF-8 either
    ?assertMatch({error, {encode, _}}, roundtrip(Ctx, <<"é">>)).

bytes(Ctx) ->
    [assert_roundtrip(Ctx, {bytes, V}, <<"bytes">>) || V <- [<<>>, <<0, 255, 1>>, <<"text">>]],
    ?assertEqual({ok, {bytes, <<1, 2, 3>>}}, pyctx:eval(Ctx, <<"bytes([1, 2, 3])">>)),
    ?assertEqual({ok, {bytes, <<"ab">>}}, pyctx:eval(Ctx, <<"bytearray(b'ab')">>)),
    ?assertEqual({ok, 3}, pyctx:eval(Ctx, <<"x[2]">>, #{x => {bytes, <<1, 2, 3>>}})).

specials(Ctx) ->
    assert_roundtrip(Ctx, true, <<"bool">>),
    assert_roundtrip(Ctx, false, <<"bool">>),
    assert_roundtrip(Ctx, none, <<"NoneType">>),
    ?assertEqual({ok, none}, pyctx:eval(Ctx, <<"None">>)),
    ?assertEqual({ok, [true, false]}, pyctx:eval(Ctx, <<"[1 == 1, 1 == 2]">>)).

atoms(Ctx) ->
    Snowman = list_to_atom([9731, $x]),
    [assert_roundtrip(Ctx, A, <<"Symbol">>)
     || A <- [foo, 'Elixir.Some.Module', '', 'with space', 'café', Snowman]],
    ?assertEqual({ok, <<"foo">>}, pyctx:eval(Ctx, <<"str(x)">>, #{x => foo})),
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x == 'foo' and isinstance(x, pyctx.Symbol)">>,
                                        #{x => foo})),
    ?assertEqual({ok, <<"☃x"/utf8>>}, pyctx:eval(Ctx, <<"str(x)">>, #{x => Snowman})),
    ?assertEqual({ok, ok}, pyctx:eval(Ctx, <<"pyctx.Symbol('ok')">>)).

unknown_symbols(Ctx) ->
    Name = <<"pyctx_test_never_an_atom_", (integer_to_binary(erlang:unique_integer([positive])))/binary>>,
    Before = erlang:system_info(atom_count),
    ?assertEqual({ok, {symbol, Name}}, pyctx:eval(Ctx, <<"pyctx.Symbol(n)">>, #{n => Name})),
    Unicode = <<"☃_pyctx_never"/utf8>>,
    ?assertEqual({ok, {symbol, Unicode}}, pyctx:eval(Ctx, <<"pyctx.Symbol(n)">>, #{n => Unicode})),
    ?assertEqual(Before, erlang:system_info(atom_count)),
    ?assertError(badarg, binary_to_existing_atom(Name, utf8)),
    %% the fallback form is sent back as the same symbol
    assert_roundtrip(Ctx, {symbol, Name}, <<"Symbol">>).

lists(Ctx) ->
    [assert_roundtrip(Ctx, V, <<"list">>)
     || V <- [[], [1, [2, [3, []]]], [<<"a">>, 1.5, foo, {1}], lists:seq(1, 10000)]],
    %% Erlang strings are lists of integers
    ?assertEqual({ok, [97, 98]}, roundtrip(Ctx, "ab")),
    ?assertEqual({ok, [1, 2, 3]}, pyctx:eval(Ctx, <<"list(range(1, 4))">>)).

tuples(Ctx) ->
    [assert_roundtrip(Ctx, V, <<"tuple">>)
     || V <- [{}, {1}, {1, <<"a">>, {2, [3]}}, {bytes, 1}, {set, <<"not a list">>}]],
    ?assertEqual({ok, {1, <<"x">>}}, pyctx:eval(Ctx, <<"(1, 'x')">>)).

maps(Ctx) ->
    [assert_roundtrip(Ctx, V, <<"dict">>)
     || V <- [#{}, #{<<"a">> => 1, 2 => [3], foo => #{}}, #{{1, 2} => x, 1.5 => none}]],
    ?assertEqual({ok, #{<<"a">> => 1}}, pyctx:eval(Ctx, <<"{'a': 1}">>)),
    %% Python keys must be hashable: a list key arrives as a tuple
    ?assertEqual({ok, #{{1, 2} => 3}}, roundtrip(Ctx, #{[1, 2] => 3})).

sets(Ctx) ->
    {ok, {set, Items}} = roundtrip(Ctx, {set, [3, 1, 2]}),
    ?assertEqual([1, 2, 3], lists:sort(Items)),
    ?assertEqual(<<"set">>, py_type(Ctx, {set, [1]})),
    {ok, {set, Frozen}} = pyctx:eval(Ctx, <<"frozenset({4, 5})">>),
    ?assertEqual([4, 5], lists:sort(Frozen)).

host_terms(Ctx) ->
    Port = hd(erlang:ports()),
    Fun = fun(X) -> X + 1 end,
    Ref = make_ref(),
    [assert_roundtrip(Ctx, V, <<"HostTerm">>) || V <- [self(), Ref, Port, Fun, fun lists:map/2]],
    {ok, Fun2} = roundtrip(Ctx, Fun),
    ?assertEqual(3, Fun2(2)),
    %% opaque to Python, but equal to itself
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"x == y">>, #{x => Ref, y => Ref})),
    ?assertEqual({ok, [self(), {Ref}]}, roundtrip(Ctx, [self(), {Ref}])).

forged_host_terms(Ctx) ->
    %% an atom that does not exist, in external term format: refused, not created
    Forged = <<131, 119, 12, "pyctx_forged">>,
    ?assertMatch({error, {decode, <<"host term is not a valid term", _/binary>>}},
                 pyctx:eval(Ctx, <<"pyctx.HostTerm(x)">>, #{x => {bytes, Forged}})),
    ?assertMatch({error, {decode, _}}, pyctx:eval(Ctx, <<"pyctx.HostTerm(b'garbage')">>)).

unencodable(Ctx) ->
    ?assertMatch({error, {encode, <<"improper lists", _/binary>>}}, roundtrip(Ctx, [1 | 2])),
    ?assertMatch({error, {encode, <<"bitstrings", _/binary>>}}, roundtrip(Ctx, <<1:3>>)),
    Deep = lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 300)),
    ?assertMatch({error, {encode, <<"term nested deeper than 256", _/binary>>}}, roundtrip(Ctx, Deep)),
    %% a Python value without a mapping is an encode error naming its type
    ?assertMatch({error, {encode, _}}, pyctx:eval(Ctx, <<"object()">>)),
    %% bad arguments to the API itself raise badarg
    ?assertError(badarg, pyctx:call(Ctx, operator, add, not_a_list)),
    ?assertError(badarg, pyctx:call("not_a_context", operator, add, [])),
    %% an atom names a pool: one that runs nowhere is not running
    ?assertEqual({error, not_running}, pyctx:call(not_a_pool, operator, add, [])),
    ?assertError(badarg, pyctx:call(Ctx, <<"oper", 0, "ator">>, add, [])).

kwargs(Ctx) ->
    ?assertEqual({ok, [3, 2, 1]},
                 pyctx:call(Ctx, builtins, sorted, [[1, 3, 2]], #{kwargs => #{reverse => true}})),
    ?assertEqual({ok, [3, 2, 1]},
                 pyctx:call(Ctx, builtins, sorted, [[1, 3, 2]], #{kwargs => [{<<"reverse">>, true}]})),
    ?assertEqual({ok, 255}, pyctx:call(Ctx, builtins, int, [<<"ff">>], #{kwargs => #{base => 16}})),
    ?assertMatch({error, {encode, <<"keyword names", _/binary>>}},
                 pyctx:call(Ctx, builtins, sorted, [[1]], #{kwargs => #{1 => true}})).

large_values(Ctx) ->
    Big = lists:seq(1, 200000),
    ?assertEqual({ok, 200000}, pyctx:call(Ctx, builtins, len, [Big])),
    Blob = binary:copy(<<"x">>, 4 * 1024 * 1024),
    ?assertEqual({ok, 4 * 1024 * 1024}, pyctx:call(Ctx, builtins, len, [{bytes, Blob}])),
    ?assertEqual({ok, Big}, roundtrip(Ctx, Big)).

codec_test_() ->
    Diag = fun(T) -> {ok, C} = pyctx_nif:to_cbor(T), {ok, D} = pyctx_nif:cbor_diagnose(C), D end,
    [?_assertEqual(<<"28793([1, \"a\"])">>, Diag({1, <<"a">>})),
     ?_assertEqual(<<"39(\"foo\")">>, Diag(foo)),
     ?_assertEqual(<<"h'01ff'">>, Diag({bytes, <<1, 255>>})),
     ?_assertEqual(<<"[true, false, null]">>, Diag([true, false, none])),
     ?_assertEqual(<<"258([1])">>, Diag({set, [1]})),
     ?_assertEqual(<<"2(h'010000000000000000')">>, Diag(1 bsl 64)),
     ?_assertEqual(<<"3(h'010000000000000000')">>, Diag(-(1 bsl 64) - 1)),
     ?_assertEqual(<<"-9223372036854775808">>, Diag(-(1 bsl 63))),
     ?_assertEqual({ok, [1, {2}]}, pyctx_nif:from_cbor(element(2, pyctx_nif:to_cbor([1, {2}])))),
     ?_assertMatch({error, {decode, _}}, pyctx_nif:from_cbor(<<16#82, 1>>)),
     ?_assertMatch({error, {decode, <<"trailing bytes", _/binary>>}}, pyctx_nif:from_cbor(<<1, 2>>))].
