%% Channels between Erlang and Python code, in every context mode: round
%% trips in order both ways, backpressure proven by the channel's counters,
%% close from either end waking the other, byte channels, bad input, and a
%% channel garbage collected without being closed.
-module(pyctx_channel_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/1, wait_until/2, mailbox/0]).

%% Python helpers, defined in each context's default namespace.
helpers() ->
    <<"import pyctx\n"
      "def echo(cid, n):\n"
      "    ch = pyctx.Channel(cid)\n"
      "    for _ in range(n):\n"
      "        ch.send(ch.recv())\n"
      "    return n\n"
      "def produce(cid, n, key):\n"
      "    # counts each completed send in the shared store\n"
      "    ch = pyctx.Channel(cid)\n"
      "    sent = 0\n"
      "    try:\n"
      "        for i in range(n):\n"
      "            ch.send(i)\n"
      "            sent += 1\n"
      "            pyctx.store_put(key, sent)\n"
      "    except pyctx.ChannelClosed:\n"
      "        return ('closed', sent)\n"
      "    return ('done', sent)\n"
      "def drain(cid):\n"
      "    ch = pyctx.Channel(cid)\n"
      "    got = []\n"
      "    try:\n"
      "        while True:\n"
      "            got.append(ch.recv())\n"
      "    except pyctx.ChannelClosed as e:\n"
      "        return (got, isinstance(e, EOFError))\n"
      "def bytes_echo(cid, n):\n"
      "    ch = pyctx.Channel(cid)\n"
      "    for _ in range(n):\n"
      "        b = ch.recv()\n"
      "        assert type(b) is bytes, type(b)\n"
      "        ch.send(b + b'!')\n"
      "    try:\n"
      "        ch.send('text')\n"
      "    except TypeError as e:\n"
      "        return str(e)\n"
      "async def arecv(cid):\n"
      "    return await pyctx.Channel(cid).recv()\n">>.

channel_test_() ->
    [{setup,
      fun() -> Ctx = start(Mode), ok = pyctx:exec(Ctx, helpers()), Ctx end,
      fun pyctx:stop_context/1,
      fun(Ctx) ->
              [{timeout, 30, {Name(Mode), fun() -> Test(Ctx) end}}
               || {Name, Test} <- [{label("round trip in order"), fun round_trip/1},
                                   {label("Python -> Erlang backpressure"), fun backpressure_from_python/1},
                                   {label("Erlang -> Python backpressure"), fun backpressure_to_python/1},
                                   {label("Erlang closes, Python wakes"), fun erlang_closes/1},
                                   {label("Python closes, Erlang wakes"), fun python_closes/1},
                                   {label("byte channel"), fun bytes_channel/1},
                                   {label("await recv"), fun await_recv/1},
                                   {label("GC of an unclosed channel"), fun collected/1},
                                   {label("active delivery"), fun active/1},
                                   {label("active delivery withdrawn"), fun active_withdrawn/1},
                                   {label("active delivery of a dead owner"), fun active_owner_dies/1}]]
      end}
     || Mode <- modes() ++ [process]] ++
    [{"bad input", fun bad_input/0}].

label(Text) -> fun(Mode) -> atom_to_list(Mode) ++ ": " ++ Text end.

%% 300 terms through Python and back, order proven by sequence numbers.
round_trip(Ctx) ->
    {ok, Ch} = pyctx:channel_new(4),
    N = 300,
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', echo, [pyctx:channel_id(Ch), N]),
    Parent = self(),
    %% A separate sender: with both directions bounded, sending everything
    %% before receiving anything would fill both sides.
    spawn_link(fun() ->
                       [ok = pyctx:channel_send(Ch, {I, <<"v">>, [I, 2.5]}) || I <- lists:seq(1, N)],
                       Parent ! sent
               end),
    Got = [element(2, {ok, _} = pyctx:channel_recv(Ch)) || _ <- lists:seq(1, N)],
    ?assertEqual([{I, <<"v">>, [I, 2.5]} || I <- lists:seq(1, N)], Got),
    receive sent -> ok after 5000 -> error(sender_stuck) end,
    ?assertEqual({ok, N}, pyctx:await(Ref, 5000)),
    ?assertEqual(#{to_python => N, from_python => N, queued_to_python => 0, queued_to_host => 0},
                 pyctx:channel_stats(Ch)),
    ?assertEqual(empty, pyctx:channel_try_recv(Ch)),
    ok = pyctx:channel_close(Ch).

%% A capacity-2 channel: Python never gets more than 2 values ahead of what
%% Erlang received. After each receive, wait until Python's count of
%% completed sends (in the store) reaches received + 2, then check it went
%% no further and that the queue holds exactly 2.
backpressure_from_python(Ctx) ->
    Cap = 2,
    N = 12,
    Key = unique_key(),
    {ok, Ch} = pyctx:channel_new(Cap),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', produce, [pyctx:channel_id(Ch), N, Key]),
    lists:foreach(
      fun(Received) ->
              Expected = min(Received + Cap, N),
              wait_until(fun() -> sent(Key) >= Expected end, 5000),
              ?assertEqual(Expected, sent(Key)),
              ?assertMatch(#{from_python := Received, queued_to_host := Queued}
                             when Queued =:= Expected - Received,
                           pyctx:channel_stats(Ch)),
              ?assertEqual({ok, Received}, pyctx:channel_recv(Ch))
      end, lists:seq(0, N - 1)),
    ?assertEqual({ok, {<<"done">>, N}}, pyctx:await(Ref, 5000)),
    ?assertEqual(N, sent(Key)),
    true = pyctx:store_delete(Key).

%% Python not receiving: Erlang's sends stop at the capacity.
backpressure_to_python(Ctx) ->
    {ok, Ch} = pyctx:channel_new(2),
    Id = pyctx:channel_id(Ch),
    ok = pyctx:channel_try_send(Ch, 1),
    ok = pyctx:channel_send(Ch, 2),
    ?assertEqual({error, queue_full}, pyctx:channel_try_send(Ch, 3)),
    ?assertEqual({error, timeout}, pyctx:channel_send(Ch, 3, 0)),
    ?assertEqual({error, timeout}, pyctx:channel_send(Ch, 3, 30)),
    ?assertMatch(#{to_python := 0, queued_to_python := 2}, pyctx:channel_stats(Ch)),
    %% A blocked sender is woken by Python taking a value.
    Parent = self(),
    Sender = spawn_link(fun() -> Parent ! {sent, pyctx:channel_send(Ch, 3, 5000)} end),
    wait_until(fun() -> waiting_in(Sender, channel_send_wait) end, 5000),
    ?assertEqual({ok, {true, 1}},
                 pyctx:eval(Ctx, <<"__import__('pyctx').Channel(i).try_recv()">>, #{i => Id})),
    receive {sent, R} -> ?assertEqual(ok, R) after 5000 -> error(sender_not_woken) end,
    ?assertMatch(#{to_python := 1, queued_to_python := 2}, pyctx:channel_stats(Ch)),
    ok = pyctx:channel_close(Ch),
    %% Values queued before the close are still received, then the end.
    ?assertEqual({ok, {[2, 3], true}}, pyctx:call(Ctx, '__main__', drain, [Id])).

erlang_closes(Ctx) ->
    %% Python blocked in recv sees ChannelClosed (an EOFError) after the
    %% values sent before the close.
    {ok, Ch} = pyctx:channel_new(4),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', drain, [pyctx:channel_id(Ch)]),
    ok = pyctx:channel_send(Ch, a),
    ok = pyctx:channel_send(Ch, b),
    wait_until(fun() -> maps:get(to_python, pyctx:channel_stats(Ch)) =:= 2 end, 5000),
    ok = pyctx:channel_close(Ch),
    ?assertEqual({ok, {[a, b], true}}, pyctx:await(Ref, 5000)),
    ?assertEqual({error, closed}, pyctx:channel_send(Ch, c)),
    ?assertEqual({error, closed}, pyctx:channel_try_send(Ch, c)),
    ?assertEqual({error, closed}, pyctx:channel_recv(Ch, 0)),
    %% Python blocked in send (capacity 1, Erlang not receiving).
    Key = unique_key(),
    {ok, Ch2} = pyctx:channel_new(1),
    {ok, Ref2} = pyctx:call_async(Ctx, '__main__', produce, [pyctx:channel_id(Ch2), 10, Key]),
    wait_until(fun() -> sent(Key) =:= 1 end, 5000),
    ok = pyctx:channel_close(Ch2),
    ?assertEqual({ok, {<<"closed">>, 1}}, pyctx:await(Ref2, 5000)),
    ?assertEqual({ok, 0}, pyctx:channel_recv(Ch2)),
    ?assertEqual({error, closed}, pyctx:channel_recv(Ch2)),
    true = pyctx:store_delete(Key).

python_closes(Ctx) ->
    {ok, Ch} = pyctx:channel_new(4),
    Id = pyctx:channel_id(Ch),
    Parent = self(),
    Waiter = spawn_link(fun() -> Parent ! {got, pyctx:channel_recv(Ch, infinity)} end),
    wait_until(fun() -> waiting_in(Waiter, channel_recv_wait) end, 5000),
    {ok, none} = pyctx:eval(Ctx, <<"pyctx.Channel(i).close()">>, #{i => Id}),
    receive {got, R} -> ?assertEqual({error, closed}, R) after 5000 -> error(waiter_not_woken) end,
    ?assertEqual({error, closed}, pyctx:channel_send(Ch, 1)),
    ?assertEqual({error, closed}, pyctx:channel_try_recv(Ch)),
    %% What Python sent before closing is still received, then the end.
    {ok, Ch2} = pyctx:channel_new(4),
    {ok, _} = pyctx:eval(Ctx, <<"(lambda c: (c.send(1), c.send('two'), c.close()))(pyctx.Channel(i))">>,
                         #{i => pyctx:channel_id(Ch2)}),
    ?assertEqual({ok, 1}, pyctx:channel_recv(Ch2)),
    ?assertEqual({ok, <<"two">>}, pyctx:channel_try_recv(Ch2)),
    ?assertEqual({error, closed}, pyctx:channel_recv(Ch2)).

bytes_channel(Ctx) ->
    {ok, B} = pyctx:channel_new(2, #{bytes => true}),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', bytes_echo, [pyctx:channel_id(B), 3]),
    %% Raw bytes, no conversion: not UTF-8, iodata flattened, empty.
    ok = pyctx:channel_send(B, <<0, 255, 1>>),
    ?assertEqual({ok, <<0, 255, 1, $!>>}, pyctx:channel_recv(B)),
    ok = pyctx:channel_send(B, [<<"ab">>, "c", [$d]]),
    ?assertEqual({ok, <<"abcd!">>}, pyctx:channel_recv(B)),
    ok = pyctx:channel_send(B, <<>>),
    ?assertEqual({ok, <<"!">>}, pyctx:channel_recv(B)),
    {ok, Why} = pyctx:await(Ref, 5000),
    ?assertMatch({_, _}, binary:match(Why, <<"byte channel">>)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:channel_send(B, 42)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:channel_try_send(B, {bytes, <<"x">>})),
    %% Large values both ways: sent from a dirty scheduler (an iolist, a
    %% binary over 1 MiB), received as a resource binary over the library's
    %% buffer. (A process context carries under 2 MiB per message.)
    Len = fun() -> pyctx:eval(Ctx, <<"len(pyctx.Channel(i).recv())">>, #{i => pyctx:channel_id(B)}) end,
    ok = pyctx:channel_send(B, [binary:copy(<<1, 2, 3, 4>>, 100000), <<"tail">>]),
    ?assertEqual({ok, 400004}, Len()),
    ok = pyctx:channel_send(B, binary:copy(<<1, 2, 3, 4>>, 384 * 1024)),
    ?assertEqual({ok, 1536 * 1024}, Len()),
    {ok, none} = pyctx:eval(Ctx, <<"(lambda c: [c.send(bytes(range(256)) * 1000) for _ in (1, 2)] and None)"
                                   "(pyctx.Channel(i))">>, #{i => pyctx:channel_id(B)}),
    Expected = binary:copy(list_to_binary(lists:seq(0, 255)), 1000),
    ?assertEqual({ok, Expected}, pyctx:channel_try_recv(B)),
    ?assertEqual({ok, Expected}, pyctx:channel_recv(B)),
    ok = pyctx:channel_close(B).

await_recv(Ctx) ->
    {ok, Ch} = pyctx:channel_new(1),
    ok = pyctx:channel_send(Ch, #{<<"k">> => [1, 2]}),
    ?assertEqual({ok, #{<<"k">> => [1, 2]}},
                 pyctx:call(Ctx, '__main__', arecv, [pyctx:channel_id(Ch)])),
    %% A large value (decoded off the normal schedulers) both ways.
    Big = [{I, integer_to_binary(I)} || I <- lists:seq(1, 20000)],
    ok = pyctx:channel_send(Ch, Big),
    {ok, none} = pyctx:eval(Ctx, <<"(lambda c: c.send(c.recv()))(pyctx.Channel(i))">>,
                            #{i => pyctx:channel_id(Ch)}),
    ?assertEqual({ok, Big}, pyctx:channel_try_recv(Ch)),
    ok = pyctx:channel_close(Ch).

%% The last reference to a channel goes with its process: the destructor
%% closes it, and Python, which holds it open by id, sees the end.
collected(Ctx) ->
    Parent = self(),
    {Pid, Mon} = spawn_monitor(
                   fun() ->
                           {ok, Ch} = pyctx:channel_new(2),
                           Parent ! {id, pyctx:channel_id(Ch)},
                           ok = pyctx:channel_send(Ch, <<"last">>),
                           %% Python has opened it once it took the value.
                           wait_until(fun() -> maps:get(to_python, pyctx:channel_stats(Ch)) =:= 1 end,
                                      5000)
                   end),
    Id = receive {id, I} -> I after 5000 -> error(no_id) end,
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', drain, [Id]),
    receive {'DOWN', Mon, process, Pid, R} -> ?assertEqual(normal, R) after 10000 -> error(owner_stuck) end,
    ?assertEqual({ok, {[<<"last">>], true}}, pyctx:await(Ref, 5000)),
    %% The id names no channel any more.
    ?assertMatch({error, {python, _, _, _}}, pyctx:eval(Ctx, <<"pyctx.Channel(i)">>, #{i => Id})).

%% {active, N}-style delivery: exactly the credit granted arrives, in order,
%% then `passive'; the channel's counters show nothing more was taken.
active(Ctx) ->
    Key = unique_key(),
    {ok, Ch} = pyctx:channel_new(4),
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', produce, [pyctx:channel_id(Ch), 10, Key]),
    ok = pyctx:channel_active(Ch, 3),
    ?assertEqual({[0, 1, 2], passive}, events(Ch)),
    %% Python fills the queue (3 taken + 4 queued) and waits; nothing more
    %% was taken for delivery.
    wait_until(fun() -> sent(Key) =:= 7 end, 5000),
    ?assertMatch(#{from_python := 3, queued_to_host := 4}, pyctx:channel_stats(Ch)),
    ?assertEqual([], channel_messages(Ch)),
    ok = pyctx:channel_active(Ch, 50),
    ok = pyctx:channel_active(Ch, 50),                  % adds to the credit
    Parent = self(),
    spawn_link(fun() -> Parent ! {other, pyctx:channel_active(Ch, 1)} end),
    receive {other, R} -> ?assertEqual({error, not_owner}, R) after 5000 -> error(no_reply) end,
    ?assertEqual({ok, {<<"done">>, 10}}, pyctx:await(Ref, 5000)),
    ok = pyctx:channel_close(Ch),
    ?assertEqual({lists:seq(3, 9), closed}, events(Ch)),
    ?assertEqual({error, closed}, pyctx:channel_active(Ch, 1)),
    ?assertEqual([], channel_messages(Ch)),
    true = pyctx:store_delete(Key).

active_withdrawn(Ctx) ->
    {ok, Ch} = pyctx:channel_new(2),
    ok = pyctx:channel_active(Ch, 5),
    ok = pyctx:channel_active(Ch, false),
    ?assertEqual({[], passive}, events(Ch)),
    ?assertEqual(passive, pyctx:channel_active(Ch, false)),
    %% Not delivering: a value Python sends stays in the channel.
    {ok, true} = pyctx:eval(Ctx, <<"pyctx.Channel(i).try_send('kept')">>, #{i => pyctx:channel_id(Ch)}),
    ?assertMatch(#{from_python := 0, queued_to_host := 1}, pyctx:channel_stats(Ch)),
    ?assertEqual([], channel_messages(Ch)),
    ?assertEqual({ok, <<"kept">>}, pyctx:channel_recv(Ch)),
    ?assertError(function_clause, pyctx:channel_active(Ch, 0)),
    ?assertError(function_clause, pyctx:channel_active(Ch, true)),
    ?assertError(badarg, pyctx:channel_active(make_ref(), 1)),
    ok = pyctx:channel_close(Ch).

%% The owner's exit stops its delivery without taking anything more; then
%% another process may take over.
active_owner_dies(Ctx) ->
    {ok, Ch} = pyctx:channel_new(2),
    {Pid, Mon} = spawn_monitor(fun() -> ok = pyctx:channel_active(Ch, 10) end),
    receive {'DOWN', Mon, process, Pid, normal} -> ok after 5000 -> error(owner_stuck) end,
    wait_until(fun() -> pyctx:channel_active(Ch, 1) =:= ok end, 5000),
    {ok, true} = pyctx:eval(Ctx, <<"pyctx.Channel(i).try_send(7)">>, #{i => pyctx:channel_id(Ch)}),
    ?assertEqual({[7], passive}, events(Ch)),
    ?assertMatch(#{from_python := 1}, pyctx:channel_stats(Ch)),
    ok = pyctx:channel_close(Ch).

%% The data of channel messages up to a `passive' or `closed'.
events(Ch) ->
    events(Ch, []).

events(Ch, Acc) ->
    receive
        {pyctx_channel, Ch, {data, V}} -> events(Ch, [V | Acc]);
        {pyctx_channel, Ch, End} when End =:= passive; End =:= closed -> {lists:reverse(Acc), End};
        {pyctx_channel, Ch, Other} -> error({unexpected, Other})
    after 5000 -> error({no_end, lists:reverse(Acc)})
    end.

channel_messages(Ch) ->
    [M || {pyctx_channel, C, _} = M <- mailbox(), C =:= Ch].

bad_input() ->
    ?assertMatch({error, {invalid_argument, _}}, pyctx:channel_new(0)),
    ?assertError(function_clause, pyctx:channel_new(-1)),
    ?assertError(function_clause, pyctx:channel_new(two)),
    ?assertError({bad_option, {bytes, yes}}, pyctx:channel_new(1, #{bytes => yes})),
    ?assertError({bad_option, size}, pyctx:channel_new(1, #{size => 1})),
    {ok, Ch} = pyctx:channel_new(1),
    ?assertMatch({error, {encode, _}}, pyctx:channel_send(Ch, [1 | 2])),
    ?assertMatch({error, {encode, _}}, pyctx:channel_try_send(Ch, <<255>>)),
    {ok, Buf} = pyctx:lend(<<"lent">>),
    ?assertMatch({error, {encode, _}}, pyctx:channel_send(Ch, [Buf])),
    %% Nothing bad was queued.
    ?assertMatch(#{queued_to_python := 0}, pyctx:channel_stats(Ch)),
    ?assertError(badarg, pyctx:channel_send(not_a_channel, 1)),
    ?assertError(badarg, pyctx:channel_recv(make_ref())),
    ?assertError(badarg, pyctx:channel_recv(Ch, -1)),
    ?assertError(badarg, pyctx:channel_send(Ch, 1, soon)),
    ?assertError(badarg, pyctx:channel_id(self())),
    ?assertEqual({error, timeout}, pyctx:channel_recv(Ch, 0)),
    ?assertEqual({error, timeout}, pyctx:channel_recv(Ch, 20)),
    ok = pyctx:channel_close(Ch),
    ok = pyctx:channel_close(Ch).

unique_key() ->
    <<"erl.channel.", (integer_to_binary(erlang:unique_integer([positive])))/binary>>.

%% Python's count of completed sends.
sent(Key) ->
    case pyctx:store_get(Key) of
        {ok, N, _} -> N;
        {error, not_found} -> 0
    end.

%% True while Pid runs the dirty waiting NIF `Fun'.
waiting_in(Pid, Fun) ->
    case process_info(Pid, current_function) of
        {current_function, {pyctx_nif, Fun, _}} -> true;
        _ -> false
    end.
